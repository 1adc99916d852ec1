"""A client installed exactly as the README says (`pip install lithops-core lithops-standalone`,
from built wheels, no extras, no dev tools) runs standalone calls inside a Docker image runtime."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import venv
from pathlib import Path
from typing import Any

import pytest
from standalone_helpers import ssh_config

REPO = Path(__file__).resolve().parents[2]
MEMBERS = ("lithops-core", "lithops-localhost", "lithops-standalone")
#: Exactly what the README tells a user to install.
USER_INSTALL = ("lithops-core", "lithops-standalone")


@pytest.fixture(scope="module")
def plain_client(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv holding what `pip install lithops-core lithops-standalone` gives a user."""
    root = tmp_path_factory.mktemp("plain-install")
    wheels = root / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels)]
        + [str(REPO / m) for m in MEMBERS],
        check=True,
        timeout=600,
    )
    env_dir = root / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--find-links", str(wheels), *USER_INSTALL],
        check=True,
        timeout=600,
    )
    return python


def test_plain_install_runs_a_docker_image_runtime_on_an_ssh_host(
    plain_client: Path, ssh_hosts: list[Any], python_image: str, lithops_home: Path
) -> None:
    config = ssh_config(ssh_hosts[:1], runtime=python_image)
    program = textwrap.dedent(
        """
        import json, os, sys
        import lithops

        def inside():
            return {"dockerenv": os.path.exists("/.dockerenv"),
                    "sshd": os.path.exists("/usr/sbin/sshd")}

        config = json.loads(sys.argv[1])
        with lithops.FunctionExecutor(config=config) as fexec:
            print(json.dumps(fexec.call_async(inside).result(timeout=240)))
        """
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")} | {
        "HOME": str(lithops_home)
    }
    done = subprocess.run(
        [str(plain_client), "-c", program, json.dumps(config)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=lithops_home,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    inside = json.loads(done.stdout.strip().splitlines()[-1])
    # Inside a container of the runtime image (it has no sshd), not on the SSH host itself.
    assert inside == {"dockerenv": True, "sshd": False}
