from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from lithops.plugins import manager

TINY = Path(__file__).parent / "tinybackend"


@pytest.fixture
def fresh_plugins(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Plugins are loaded again for this test, and again afterwards."""
    manager.reset_plugin_host()
    yield
    manager.reset_plugin_host()


@pytest.fixture
def tiny_backend(monkeypatch: pytest.MonkeyPatch, fresh_plugins: None) -> Path:
    """Makes the test-only ``lithops-tiny`` distribution discoverable in this process."""
    monkeypatch.syspath_prepend(str(TINY))
    return TINY


@pytest.fixture
def make_distribution(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_plugins: None
) -> Callable[[str, str, str], Path]:
    """Create an importable distribution with one ``lithops`` entry point and plugin module."""
    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))

    def make(dist: str, module: str, source: str) -> Path:
        (root / f"{module}.py").write_text(textwrap.dedent(source))
        info = root / f"{dist.replace('-', '_')}-1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
        (info / "entry_points.txt").write_text(f"[lithops]\n{module} = {module}\n")
        sys.modules.pop(module, None)
        return root

    return make
