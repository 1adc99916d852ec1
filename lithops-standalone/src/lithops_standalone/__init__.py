"""lithops-standalone: run functions on SSH hosts that have nothing but ``python3``.

The client bootstraps each host over SSH (paramiko): it uploads the packages it runs itself into
``~/.lithops/standalone/<version>-<hash>/`` and starts one agent per host, which runs calls with
the localhost engine in the host's python3 or inside a Docker container. Results and printed
lines stream back over the SSH channel. Importing this package loads nothing heavy: the agent
side must start fast on the host and never needs paramiko.
"""

from __future__ import annotations

from lithops.version import __version__

__all__ = ["__version__"]
