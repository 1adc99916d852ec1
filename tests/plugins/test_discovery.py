"""The entry-point cache never hides a distribution installed after it was written."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lithops.plugins.discovery import find_entry_points


def _install(site: Path, dist: str, module: str) -> None:
    info = site / f"{dist.replace('-', '_')}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[lithops]\n{module} = {module}\n")


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    directory = tmp_path / "site"
    directory.mkdir()
    monkeypatch.syspath_prepend(str(directory))
    return directory


def test_a_distribution_installed_after_the_cache_was_written_is_found(site: Path) -> None:
    _install(site, "lithops-early", "lithops_early")
    assert "lithops_early" in {e.name for e in find_entry_points("lithops")}
    time.sleep(0.01)  # a distinct mtime even on coarse clocks
    _install(site, "lithops-late", "lithops_late")
    names = {e.name: e.dist.name for e in find_entry_points("lithops")}
    assert names["lithops_late"] == "lithops-late" and "lithops_early" in names


def test_a_removed_distribution_disappears(site: Path) -> None:
    _install(site, "lithops-gone", "lithops_gone")
    assert "lithops_gone" in {e.name for e in find_entry_points("lithops")}
    time.sleep(0.01)
    for path in sorted((site / "lithops_gone-1.0.dist-info").iterdir()):
        path.unlink()
    (site / "lithops_gone-1.0.dist-info").rmdir()
    assert "lithops_gone" not in {e.name for e in find_entry_points("lithops")}


def test_a_warm_client_start_does_not_scan_distributions(tmp_path: Path) -> None:
    """Also when the working directory (on sys.path for ``python -c``) changed in between:
    scripts write files there, which must not cost every start a scan."""
    probe = (
        "import sys\n"
        "from lithops.plugins.manager import get_plugin_host\n"
        "get_plugin_host()\n"
        "print('importlib.metadata' in sys.modules)\n"
    )
    env = {**os.environ, "HOME": str(tmp_path), "PYTHONPATH": os.pathsep.join(sys.path)}
    env.pop("LITHOPS_PLUGIN_CACHE", None)
    work = tmp_path / "work"
    work.mkdir()

    def start() -> str:
        return subprocess.run(
            [sys.executable, "-c", probe],
            capture_output=True,
            text=True,
            env=env,
            cwd=work,
            check=True,
        ).stdout.strip()

    first = start()  # scans and writes the cache
    time.sleep(0.01)
    (work / "output.csv").write_text("a file the last run wrote\n")
    second = start()
    assert [first, second] == ["True", "False"]


def test_a_distribution_in_the_working_directory_is_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.syspath_prepend("")
    before = {e.name for e in find_entry_points("lithops")}
    time.sleep(0.01)
    _install(work, "lithops-here", "lithops_here")
    after = {e.name for e in find_entry_points("lithops")}
    assert "lithops_here" not in before and "lithops_here" in after
