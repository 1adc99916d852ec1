"""The small Python programs lithops runs inside a runtime container.

They need nothing but the image's ``python`` (no shell, no procps), so distroless-style images
work. Each is passed with ``python -c``.
"""

from __future__ import annotations

__all__ = ["BOOT", "KEEPER", "KEEPER_MARK", "KILL_BY_TOKEN", "LEASE", "TOKEN_VAR"]

#: In the keeper's command line (``docker top``, ``/proc/1/cmdline``): names what PID 1 is.
KEEPER_MARK = "lithops runtime container keeper"

# The container's main process: keeps the container up and reaps processes orphaned by killed
# workers (exec'd processes are reparented to PID 1, and a bare `sleep` never waits for them).
# Exits on SIGTERM so `docker stop` is quick.
KEEPER = (
    f"# {KEEPER_MARK}\n"
    "import os, signal, sys\n"
    "def reap(*_):\n"
    "    try:\n"
    "        while os.waitpid(-1, os.WNOHANG)[0]:\n"
    "            pass\n"
    "    except ChildProcessError:\n"
    "        pass\n"
    "signal.signal(signal.SIGCHLD, reap)\n"
    "signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))\n"
    "while True:\n"
    "    signal.pause()\n"
)

# Marks every process of one worker (inherited by what the call starts), so kill() finds them
# all without a PID and without tools the image may lack (no sh, no pkill in distroless images).
TOKEN_VAR = "LITHOPS_WORKER_TOKEN"

# Runs before the worker: reports the PID the worker keeps across exec, for `where`.
BOOT = (
    "import os, sys; sys.stderr.write('%d\\n' % os.getpid()); sys.stderr.flush(); "
    "os.execvp(sys.argv[1], sys.argv[1:])"
)

# SIGKILLs every process whose environment carries the worker's token; repeats while it finds
# some, so a process forked during the scan is not missed.
KILL_BY_TOKEN = (
    "import os, sys\n"
    f"mark = b'{TOKEN_VAR}=' + sys.argv[1].encode()\n"
    "for _ in range(5):\n"
    "    found = False\n"
    "    for pid in filter(str.isdigit, os.listdir('/proc')):\n"
    "        try:\n"
    "            with open('/proc/%s/environ' % pid, 'rb') as f:\n"
    "                if mark not in f.read().split(b'\\0'):\n"
    "                    continue\n"
    "            os.kill(int(pid), 9)\n"
    "            found = True\n"
    "        except OSError:\n"
    "            pass\n"
    "    if not found:\n"
    "        break\n"
)

# The lease holder: waits for EOF on stdin (the client's connection ended), then stops the keeper.
LEASE = "import os, signal, sys; sys.stdin.buffer.read(); os.kill(1, signal.SIGTERM)"
