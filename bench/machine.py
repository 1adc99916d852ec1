"""What the numbers were measured on: cores, memory, CPU model, Python, load, date."""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
import sys

__all__ = ["describe_machine", "load_average"]


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _mem_total_gib() -> str:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def _our_version() -> str:
    got = subprocess.run(
        [sys.executable, "-c", "import lithops; print(getattr(lithops, '__version__', '?'))"],
        capture_output=True,
        text=True,
        check=False,
    )
    return got.stdout.strip() if got.returncode == 0 else "import failed"


def describe_machine() -> dict[str, str]:
    return {
        "date (UTC)": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S"),
        "nproc": str(os.cpu_count()),
        "memory": _mem_total_gib(),
        "CPU model": _cpu_model(),
        "python": f"{platform.python_version()} ({sys.executable})",
        "OS": f"{platform.system()} {platform.release()}",
        "our lithops version": _our_version(),
        "load average at start (1/5/15 min)": load_average(),
    }
