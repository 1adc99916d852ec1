"""The keys the core itself owns: the ``lithops:`` section and the mode sections.

A backend's own section (``localhost:``, ``aws_lambda:``, ``ssh:``...) is described by the plugin
that registers the backend (``BackendInfo.config_keys``); this module only adds the few keys
every section of a kind accepts, so that ``FunctionExecutor(runtime_memory=...)`` keeps working
when a Lithops program switches backend.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "COMMON_COMPUTE_KEYS",
    "COMMON_STORAGE_KEYS",
    "DEFAULT_BACKEND_OF_MODE",
    "LITHOPS_KEYS",
    "LOG_LEVELS",
    "MODES",
    "MODE_SECTIONS",
    "SERVERLESS_KEYS",
    "STANDALONE_KEYS",
    "KeySpec",
]

LOCALHOST = "localhost"
SERVERLESS = "serverless"
STANDALONE = "standalone"
MODES: tuple[str, ...] = (LOCALHOST, SERVERLESS, STANDALONE)

#: The backend a mode runs on when only the mode is given. Lithops' standalone default is a
#: cloud VM provider; ours is ``ssh`` (hosts the user already has), which needs no cloud account.
DEFAULT_BACKEND_OF_MODE: Mapping[str, str] = {
    LOCALHOST: "localhost",
    SERVERLESS: "aws_lambda",
    STANDALONE: "ssh",
}

LOG_LEVELS: tuple[str, ...] = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


@dataclass(frozen=True)
class KeySpec:
    """One key of a section the core owns.

    :param types: accepted Python types of the value (``bool`` is never taken for ``int``).
    :param help: one line for error messages and docs.
    :param default: filled in when the key is missing (``None``: left missing).
    :param choices: the accepted values, when the value is one of a fixed set.
    :param check: extra check returning an error text, or ``None`` when the value is fine.
    :param fold_case: compare a string value with ``choices`` ignoring case.
    """

    types: tuple[type, ...]
    help: str
    default: Any = None
    choices: tuple[Any, ...] = ()
    fold_case: bool = False
    check: Callable[[Any], str | None] | None = field(default=None, compare=False)


def _non_negative(value: Any) -> str | None:
    return "must be 0 or more" if value < 0 else None


def _positive(value: Any) -> str | None:
    return "must be more than 0" if value <= 0 else None


def _data_limit(value: Any) -> str | None:
    if value is True:
        return "must be a size in MiB, or false to disable the limit"
    if value is not False and value < 0:
        return "must be 0 or more MiB, or false to disable the limit"
    return None


_STR = (str,)
_INT = (int,)
_NUM = (int, float)
_BOOL = (bool,)
_LIST = (list, tuple)

#: The ``lithops:`` section. Names and defaults follow Lithops 3.x; keys marked "accepted for
#: compatibility" are read by Lithops but have no effect here (results come back on the
#: backend's own channel, so there is no storage monitor to tune).
LITHOPS_KEYS: Mapping[str, KeySpec] = {
    "backend": KeySpec(_STR, "compute backend (an installed backend name)"),
    "mode": KeySpec(_STR, "execution mode", choices=MODES),
    "storage": KeySpec(_STR, "storage backend (an installed backend name)"),
    "storage_bucket": KeySpec(_STR, "bucket for lithops' own data (Lithops 2.x location)"),
    "data_cleaner": KeySpec(_BOOL, "delete a job's temporary data when it is done", True),
    "data_limit": KeySpec(
        (int, bool), "largest argument data per call in MiB, false = no limit", 4, check=_data_limit
    ),
    "execution_timeout": KeySpec(
        _NUM, "seconds a call may run before it is stopped", 1800, check=_positive
    ),
    "retries": KeySpec(_INT, "times a failed call is run again", 0, check=_non_negative),
    "backups": KeySpec(
        _BOOL, "launch a backup copy of a call that runs far longer than its peers", False
    ),
    "chunksize": KeySpec(_INT, "calls per invocation (the scheduler's default when unset)"),
    "include_modules": KeySpec(
        (*_LIST, type(None)), "modules shipped with the function (null: none)", []
    ),
    "exclude_modules": KeySpec((*_LIST, type(None)), "modules never shipped with the function", []),
    "workers": KeySpec(
        _INT, "most calls running at once (Lithops 2.x; now the backend's max_workers)"
    ),
    "customized_runtime": KeySpec(_BOOL, "build a runtime that embeds the function", False),
    "log_level": KeySpec(
        (str, bool, type(None)),
        "level of lithops' logs (default WARNING)",
        choices=LOG_LEVELS,
        fold_case=True,
    ),
    "log_format": KeySpec(_STR, "logging format of lithops' logs"),
    "log_stream": KeySpec(_STR, "where lithops' logs go (ext://sys.stderr, ext://sys.stdout)"),
    "log_filename": KeySpec((str, type(None)), "write lithops' logs to this file"),
    "monitoring": KeySpec(_STR, "job monitor (accepted for compatibility)", "storage"),
    "monitoring_interval": KeySpec(
        _NUM, "monitor interval in seconds (accepted for compatibility)", 2, check=_positive
    ),
    "telemetry": KeySpec((str, bool), "telemetry backend (accepted for compatibility)", False),
    "telemetry_interval": KeySpec(_NUM, "telemetry interval (accepted for compatibility)"),
    "backend_type": KeySpec(_STR, "set by the executor (accepted for compatibility)"),
}

#: The ``standalone:`` section: settings shared by every standalone backend. Lithops also
#: accepts them inside the backend's own section (``ssh: {runtime: ...}``); so do we.
#: No defaults are filled in here: they differ per backend (``ssh`` consumes the hosts it is
#: given and does not dismantle them; VM providers default to ``reuse`` and auto-dismantle),
#: so the standalone plugin applies its own. The helps quote Lithops' defaults.
STANDALONE_KEYS: Mapping[str, KeySpec] = {
    "backend": KeySpec(_STR, "standalone backend used when only mode=standalone is given"),
    "runtime": KeySpec(_STR, "python3 on the VM, or a Docker image to run calls in"),
    "exec_mode": KeySpec(_STR, "how VMs are obtained", choices=("consume", "create", "reuse")),
    "use_gpu": KeySpec(_BOOL, "expose the VM's GPUs to the runtime"),
    "pull_runtime": KeySpec(_BOOL, "docker pull the runtime image on each VM before a job"),
    "start_timeout": KeySpec(_NUM, "seconds to wait for a VM to be ready (300)", check=_positive),
    "auto_dismantle": KeySpec(_BOOL, "stop VMs once they are idle (true)"),
    "soft_dismantle_timeout": KeySpec(
        _NUM, "idle seconds (no job) before an agent stops its VM (300)", check=_positive
    ),
    "hard_dismantle_timeout": KeySpec(
        _NUM, "seconds a VM may run a job before it is stopped (3600)", check=_positive
    ),
    "worker_processes": KeySpec((int, str), "parallel calls per VM (a number or AUTO)"),
    "workers_policy": KeySpec(
        _STR, "start with fewer VMs than asked for", choices=("permissive", "strict")
    ),
    "extra_apt_packages": KeySpec(_LIST, "apt packages installed on each VM"),
    "extra_python_packages": KeySpec(_LIST, "pip packages installed on each VM"),
}

#: The ``serverless:`` section names the default serverless backend.
SERVERLESS_KEYS: Mapping[str, KeySpec] = {
    "backend": KeySpec(_STR, "serverless backend used when only mode=serverless is given"),
    "remote_invoker": KeySpec(_BOOL, "invoke from a function (accepted for compatibility)"),
    "customized_runtime": KeySpec(_BOOL, "build a runtime that embeds the function"),
}

#: Mode sections the core validates itself (``localhost:`` is the localhost backend's section).
MODE_SECTIONS: Mapping[str, Mapping[str, KeySpec]] = {
    STANDALONE: STANDALONE_KEYS,
    SERVERLESS: SERVERLESS_KEYS,
}

#: Keys every compute backend section accepts, whatever its plugin declares: Lithops lets any
#: of them be passed to ``FunctionExecutor(**kwargs)``, and a backend may ignore those it
#: cannot honour (localhost has no ``runtime_memory``).
COMMON_COMPUTE_KEYS: Mapping[str, str] = {
    "runtime": "the runtime calls run in (a python path, an image, a function name)",
    "runtime_memory": "memory per worker in MB",
    "runtime_timeout": "platform timeout of one invocation, in seconds",
    "max_workers": "most calls running at once",
    "worker_processes": "parallel calls per worker",
    "user_agent": "set by lithops",
}

#: Keys every storage backend section accepts.
COMMON_STORAGE_KEYS: Mapping[str, str] = {
    "storage_bucket": "bucket for lithops' own data",
    "user_agent": "set by lithops",
}
