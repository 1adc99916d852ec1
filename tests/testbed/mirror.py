"""Find the Debian mirror apt already uses, so debootstrap needs no extra network access."""

from __future__ import annotations

import os
import re
from pathlib import Path

__all__ = ["debian_mirror"]

_DEFAULT = "http://deb.debian.org/debian"


def debian_mirror(apt_dir: Path = Path("/etc/apt")) -> str:
    """Return the URI of the main Debian archive among apt's configured sources.

    ``LITHOPS_TESTBED_MIRROR`` overrides it. Security and third-party repositories are
    skipped: debootstrap needs the archive that carries the suite's ``main`` component.
    """
    override = os.environ.get("LITHOPS_TESTBED_MIRROR")
    if override:
        return override.rstrip("/")
    for uri in _source_uris(apt_dir):
        if re.search(r"/debian/?$", uri) and "security" not in uri:
            return uri.rstrip("/")
    return _DEFAULT


def _source_uris(apt_dir: Path) -> list[str]:
    uris: list[str] = []
    files = [apt_dir / "sources.list"]
    for pattern in ("*.list", "*.sources"):
        files.extend(sorted((apt_dir / "sources.list.d").glob(pattern)))
    for path in files:
        try:
            text = path.read_text()
        except OSError:
            continue
        for line in text.splitlines():
            line = line.strip()
            if line.startswith("URIs:"):
                uris.extend(line.split()[1:])
            elif line.startswith("deb "):
                # One-line format: deb [options] URI suite components...
                words = [w for w in re.sub(r"\[.*?\]", "", line).split()[1:] if w]
                if words:
                    uris.append(words[0])
    return [uri for uri in uris if uri.startswith(("http://", "https://"))]
