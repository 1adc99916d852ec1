"""``python -m testbed up|down|env``: the testbed by hand, used by ``./dev``.

``up`` starts (or reuses) the engine, builds missing images, and writes ``.testbed/env``
(source it to get ``DOCKER_HOST`` and friends). Its last stdout line is ``started <pid>``
or ``reused``, so a caller knows whether it owns the engine. ``down`` stops the engine the
testbed started, unless another test run still has containers on it (``--force`` stops it
anyway).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .engine import engine_pid_from_pidfile, ensure_engine, running_engine, stop_engine
from .errors import TestbedUnavailable
from .images import PYTHON_IMAGE, ensure_all_images
from .keys import ensure_client_key
from .lambdaimage import ensure_lambda_image
from .scratch import log, scratch_dir
from .sshhosts import SESSION_LABEL, remove_abandoned

_REPO = Path(__file__).resolve().parents[2]


def _env_lines(host: str, key: Path) -> list[str]:
    return [
        f"export DOCKER_HOST={host}",
        f"export LITHOPS_TEST_PYTHON_IMAGE={PYTHON_IMAGE}",
        f"export LITHOPS_TEST_SSH_KEY={key}",
        f"export LITHOPS_TESTBED_DIR={scratch_dir()}",
    ]


def up(images: bool) -> int:
    began = time.monotonic()
    engine = ensure_engine()
    if images:
        ensure_all_images(engine)
        ensure_lambda_image(engine)
    key = ensure_client_key()
    env_path = _REPO / ".testbed" / "env"
    env_path.parent.mkdir(exist_ok=True)
    env_path.write_text("\n".join(_env_lines(engine.host, key.private_path)) + "\n")
    log(f"testbed up in {time.monotonic() - began:.0f}s; `source {env_path}` for DOCKER_HOST")
    engine.close_clients()
    print(f"started {engine.pid}" if engine.pid is not None else "reused")
    return 0


def down(force: bool) -> int:
    pid = engine_pid_from_pidfile()
    if pid is None:
        log("no dockerd started by the testbed is running")
        return 0
    engine = running_engine()
    others = []
    if engine is not None:
        client = engine.client()
        remove_abandoned(client)
        others = client.containers.list(filters={"label": SESSION_LABEL})
        engine.close_clients()
    if others and not force:
        names = ", ".join(str(c.name) for c in others)
        log(f"leaving dockerd (pid {pid}) up: test runs still use it ({names}); --force stops it")
        return 0
    stop_engine(pid)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m testbed", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    up_parser = commands.add_parser("up", help="start the engine and build missing images")
    up_parser.add_argument("--no-images", action="store_true", help="engine only")
    down_parser = commands.add_parser("down", help="stop the engine the testbed started")
    down_parser.add_argument("--force", action="store_true", help="even if runs still use it")
    commands.add_parser("env", help="print the environment of the running testbed")
    args = parser.parse_args(argv)
    try:
        if args.command == "up":
            return up(images=not args.no_images)
        if args.command == "down":
            return down(force=args.force)
        print((_REPO / ".testbed" / "env").read_text(), end="")
        return 0
    except TestbedUnavailable as exc:
        print(f"testbed: {exc}", file=sys.stderr)
        return 1
    except FileNotFoundError:
        print("testbed: not up; run `./dev testbed up`", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
