"""Built runtimes: ``lithops runtime build -f requirements.txt NAME -b gcp_functions``.

A built runtime is the default runtime's source plus the user's requirements: the build writes
the function's whole source zip (this client's worker package, ``main.py``, a
``requirements.txt`` listing google-cloud-storage and then the user's lines, and
``lithops_runtime.json`` with the runtime's name and the user's requirements) and keeps it in
the storage bucket as ``lithops.runtimes/gcp_functions/NAME.zip``
(:mod:`lithops.serverless.builds`). Cloud Build pip-installs that ``requirements.txt`` when the
function is deployed (``lithops runtime deploy NAME`` or the first executor with ``runtime:
NAME`` in the gcp_functions section).

A deploy reads the user's requirements from the stored build and puts them beside the
deploying client's own code, so a function always runs the code of the client that deployed
it (byte-identical to the stored zip when that client built it) and ``lithops runtime update
NAME`` after upgrading lithops needs no rebuild. A rebuild with other requirements changes the
functions' ``lithops-build`` label: the next deploy replaces their source. The stored build is
never deleted by lithops (a deploy does not consume it); ``lithops runtime delete NAME``
removes the functions only.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Mapping, Sequence
from typing import Any

from lithops.errors import ConfigError
from lithops.serverless.builds import (
    check_runtime_name,
    load_build,
    read_requirements,
    store_build,
)
from lithops.serverless.runtimes import DEFAULT_RUNTIME
from lithops_gcp.functions_config import SECTION
from lithops_gcp.functions_deploy import BUILD_INFO, FunctionSource, runtime_package

__all__ = ["build_runtime", "built_source"]


def build_runtime(
    config: Mapping[str, Any], name: str, file: str | None, extra_args: Sequence[str] = ()
) -> str:
    """Build runtime ``name`` from the requirements file ``file`` and store it; returns the
    runtime and where it is kept, for the command's output."""
    if extra_args:
        raise ConfigError(
            f"{SECTION} builds take no extra arguments ({' '.join(extra_args)}): list what the "
            f"runtime needs in the requirements file given with -f"
        )
    if name == DEFAULT_RUNTIME:
        raise ConfigError(
            f"{DEFAULT_RUNTIME!r} is the runtime of this client's own code and is not built: "
            f"name your runtime otherwise"
        )
    check_runtime_name(name, SECTION)
    source = FunctionSource(name, runtime_package(), read_requirements(file))
    where = store_build(config, SECTION, name, source.archive())
    return f"{name} (gs://{where})"


def built_source(config: Mapping[str, Any], name: str) -> FunctionSource:
    """The source a function of the built runtime ``name`` is deployed from (this client's
    code with the stored build's requirements)."""
    archive = load_build(config, SECTION, name)
    try:
        with zipfile.ZipFile(io.BytesIO(archive)) as zipped:
            info = json.loads(zipped.read(BUILD_INFO))
        requirements = str(info["requirements"])
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise ConfigError(
            f"the stored build of {SECTION} runtime {name!r} is not one lithops made ({exc}): "
            f"build it again with `lithops runtime build -f requirements.txt {name} -b {SECTION}`"
        ) from exc
    return FunctionSource(name, runtime_package(), requirements)
