"""The worker template starts when the client imports the executor, before any plugin loads.

Its interpreter start and imports then overlap the client's own set-up: the cold-start bar
(bench scenario b) depends on it. Each check runs in a fresh interpreter.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PROBE = textwrap.dedent(
    """
    import lithops.executor
    from lithops.plugins.manager import plugin_host_loaded
    from lithops_localhost import forkserver
    spare = forkserver._spare
    print(plugin_host_loaded(), spare is not None and spare.process.poll() is None)
    import lithops
    fexec = lithops.FunctionExecutor()
    print(fexec.map(abs, [-3]).get_result() == [3])
    """
)


def _run(tmp_path: Path, code: str, **extra: str) -> list[str]:
    env = {**os.environ, "HOME": str(tmp_path), "PYTHONPATH": os.pathsep.join(sys.path), **extra}
    env.pop("LITHOPS_CONFIG_FILE", None)
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


@pytest.mark.parametrize("cache", ["cold", "warm"])
def test_importing_the_executor_starts_the_template_before_plugins_load(
    tmp_path: Path, cache: str
) -> None:
    if cache == "warm":
        _run(tmp_path, PROBE)  # writes the entry-point caches under this HOME
    assert _run(tmp_path, PROBE) == ["False", "True", "True"]


def test_lithops_prestart_0_leaves_it_to_the_plugin(tmp_path: Path) -> None:
    assert _run(tmp_path, PROBE, LITHOPS_PRESTART="0") == ["False", "False", "True"]


def test_a_failing_warm_up_does_not_fail_the_client(tmp_path: Path) -> None:
    site = tmp_path / "site"
    info = site / "lithops_broken_warmup-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: lithops-broken-warmup\nVersion: 1.0\n"
    )
    (info / "entry_points.txt").write_text(
        "[lithops.prestart]\nbroken = lithops_broken_warmup:go\n"
    )
    ran = tmp_path / "warm-up-ran"
    (site / "lithops_broken_warmup.py").write_text(
        f"def go():\n    open({str(ran)!r}, 'w').close()\n    raise RuntimeError('no')\n"
    )
    code = f"import sys; sys.path.insert(0, {str(site)!r})\n" + PROBE
    assert _run(tmp_path, code) == ["False", "True", "True"]
    assert ran.exists(), "the warm-up was never called"
