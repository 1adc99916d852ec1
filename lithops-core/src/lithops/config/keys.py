"""The keys the core itself owns: the ``lithops:`` section and the mode sections.

A backend's own section (``localhost:``, ``aws_lambda:``, ``ssh:``...) is described by the plugin
that registers the backend (``BackendInfo.config_keys``); this module only adds the few keys
every section of a kind accepts, so that ``FunctionExecutor(runtime_memory=...)`` keeps working
when a Lithops program switches backend.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lithops.plugins.types import KeySpec

__all__ = [
    "COMMON_COMPUTE_KEYS",
    "COMMON_STORAGE_KEYS",
    "DEFAULT_BACKEND_OF_MODE",
    "LITHOPS_KEYS",
    "LOG_LEVELS",
    "LOG_STREAMS",
    "MODES",
    "MODE_SECTIONS",
    "SERVERLESS_KEYS",
    "STANDALONE_KEYS",
    "KeySpec",
    "as_key_spec",
    "check_at_least_one",
    "check_non_negative",
    "check_positive",
    "worker_processes_spec",
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
LOG_STREAMS: tuple[str, ...] = ("ext://sys.stderr", "ext://sys.stdout")


def as_key_spec(declared: KeySpec | str) -> KeySpec | None:
    """The spec of a key a plugin declared, or ``None`` for an old-style plain description."""
    return declared if isinstance(declared, KeySpec) else None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# Checks for KeySpec.check, also for plugins' own keys: each ignores values of other types
# (``AUTO`` for a number of workers), which the spec's types and choices have checked.


def check_non_negative(value: Any) -> str | None:
    return "must be 0 or more" if _is_number(value) and value < 0 else None


def check_positive(value: Any) -> str | None:
    return "must be more than 0" if _is_number(value) and value <= 0 else None


def check_at_least_one(value: Any) -> str | None:
    return "must be 1 or more" if _is_number(value) and value < 1 else None


def _data_limit(value: Any) -> str | None:
    if value is True:
        return "must be a size in MiB, or false to disable the limit"
    if _is_number(value) and value < 0:
        return "must be 0 or more MiB, or false to disable the limit"
    return None


def _log_level(value: Any) -> str | None:
    return "must be a level name, or false/null" if value is True else None


def _module_names(value: Any) -> str | None:
    if isinstance(value, list | tuple) and not all(isinstance(m, str) and m for m in value):
        return "must be a list of module names (strings)"
    return None


def worker_processes_spec(description: str) -> KeySpec:
    """``worker_processes``: a whole number of 1 or more, or ``AUTO`` (the CPU count)."""
    return KeySpec(
        (int, str), description, choices=("AUTO",), fold_case=True, check=check_at_least_one
    )


_STR = (str,)
_INT = (int,)
_NUM = (int, float)
_BOOL = (bool,)
_LIST = (list, tuple)

#: The ``lithops:`` section. Names and defaults follow Lithops 3.x. Keys of Lithops' job
#: monitor and telemetry have nothing to tune here (results are pushed on the backend's own
#: channel, nothing polls storage): each is accepted with the value that says what lithops does
#: anyway, and any other value is refused with the reason.
LITHOPS_KEYS: Mapping[str, KeySpec] = {
    "backend": KeySpec(_STR, "compute backend (an installed backend name)"),
    "mode": KeySpec(_STR, "execution mode", choices=MODES),
    "storage": KeySpec(_STR, "storage backend (an installed backend name)"),
    "storage_bucket": KeySpec(_STR, "bucket for lithops' own data (Lithops 2.x location)"),
    "data_cleaner": KeySpec(
        _BOOL,
        "when the executor closes, delete the temporary objects lithops itself put in storage "
        "for its jobs (functions staged for serverless workers); cloud objects the functions "
        "put stay until clean()",
        True,
    ),
    "data_limit": KeySpec(
        (int, bool), "largest argument data per call in MiB, false = no limit", 4, check=_data_limit
    ),
    "execution_timeout": KeySpec(
        _NUM, "seconds a call may run before it is stopped", 1800, check=check_positive
    ),
    "retries": KeySpec(_INT, "times a failed call is run again", 0, check=check_non_negative),
    "backups": KeySpec(
        _BOOL, "launch a backup copy of a call that runs far longer than its peers", False
    ),
    "chunksize": KeySpec(
        _INT,
        "calls sent to a worker in one message (0 or unset: sized from the workers)",
        check=check_non_negative,
    ),
    "include_modules": KeySpec(
        (*_LIST, type(None)),
        "modules shipped with the function ([]: the ones it needs, null: none)",
        [],
        check=_module_names,
    ),
    "exclude_modules": KeySpec(
        (*_LIST, type(None)),
        "modules never shipped with the function",
        [],
        check=_module_names,
    ),
    "workers": KeySpec(
        _INT,
        "most batches of calls with the backend at once when its section sets no max_workers "
        "(Lithops 2.x's name for max_workers)",
        check=check_at_least_one,
    ),
    "customized_runtime": KeySpec(
        _BOOL,
        "build a runtime that embeds the function",
        False,
        unsupported="no backend here builds runtimes with the function inside; functions "
        "always travel with each job",
    ),
    "log_level": KeySpec(
        (str, bool, type(None)),
        "level of lithops' logs (default WARNING; false or null: lithops configures no logging)",
        choices=LOG_LEVELS,
        fold_case=True,
        check=_log_level,
    ),
    "log_format": KeySpec(_STR, "logging format of lithops' logs"),
    "log_stream": KeySpec(
        _STR,
        "where lithops' logs go",
        choices=LOG_STREAMS,
    ),
    "log_filename": KeySpec((str, type(None)), "write lithops' logs to this file"),
    "monitoring": KeySpec(
        _STR,
        "how finished calls are noticed",
        "storage",
        unsupported="results come back pushed on the compute backend's own channel (pipes, "
        "SSH, the invocation's response), with no job monitor to choose and no RabbitMQ; "
        "'storage', Lithops' default, is accepted: it needs no other service, like what "
        "lithops does",
    ),
    "monitoring_interval": KeySpec(
        _NUM,
        "seconds between two looks at storage for finished calls",
        2,
        unsupported="nothing polls storage for results (they are pushed as calls finish), "
        "so there is no interval to set",
    ),
    "telemetry": KeySpec(
        (str, bool),
        "telemetry backend",
        False,
        unsupported="lithops collects and sends no telemetry; per-call stats are on each "
        "future (future.stats) and in job_summary()",
    ),
    "telemetry_interval": KeySpec(
        _NUM,
        "telemetry interval",
        unsupported="lithops collects and sends no telemetry",
    ),
    "backend_type": KeySpec(
        _STR,
        "the kind of the compute backend (its mode)",
        choices=MODES,
    ),
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
    "use_gpu": KeySpec(
        _BOOL,
        "expose the VM's GPUs to the runtime",
        False,
        unsupported="the standalone agents do not pass GPUs to the runtime yet",
    ),
    "pull_runtime": KeySpec(
        _BOOL,
        "docker pull the runtime image on each VM before a job",
        False,
        unsupported="the standalone agents use the image the host has (docker pulls it "
        "only when it is missing)",
    ),
    "start_timeout": KeySpec(
        _NUM, "seconds to wait for a VM to be ready (300)", check=check_positive
    ),
    "auto_dismantle": KeySpec(_BOOL, "stop VMs once they are idle (true)"),
    "soft_dismantle_timeout": KeySpec(
        _NUM, "idle seconds (no job) before an agent stops its VM (300)", check=check_positive
    ),
    "hard_dismantle_timeout": KeySpec(
        _NUM, "seconds a VM may run a job before it is stopped (3600)", check=check_positive
    ),
    "worker_processes": worker_processes_spec("parallel calls per VM (a number or AUTO)"),
    "workers_policy": KeySpec(
        _STR,
        "start with fewer VMs than asked for (permissive) or fail (strict)",
        "strict",
        choices=("permissive", "strict"),
        unsupported="every host must start, or the executor fails (strict is the only policy)",
    ),
    "extra_apt_packages": KeySpec(
        _LIST,
        "apt packages installed on each VM",
        [],
        unsupported="hosts are not set up with extra apt packages; use a Docker runtime "
        "image that has them",
    ),
    "extra_python_packages": KeySpec(
        _LIST,
        "pip packages installed on each VM",
        [],
        unsupported="hosts are not set up with extra python packages; use a Docker runtime "
        "image that has them",
    ),
}

#: The ``serverless:`` section names the default serverless backend.
SERVERLESS_KEYS: Mapping[str, KeySpec] = {
    "backend": KeySpec(_STR, "serverless backend used when only mode=serverless is given"),
    "remote_invoker": KeySpec(
        _BOOL,
        "invoke the calls from a function in the cloud instead of from the client",
        False,
        unsupported="calls are always invoked from the client, with at most max_workers "
        "invocations in flight; a remote invoker function is not deployed",
    ),
    "customized_runtime": LITHOPS_KEYS["customized_runtime"],
}

#: Mode sections the core validates itself (``localhost:`` is the localhost backend's section).
MODE_SECTIONS: Mapping[str, Mapping[str, KeySpec]] = {
    STANDALONE: STANDALONE_KEYS,
    SERVERLESS: SERVERLESS_KEYS,
}

#: Keys every compute backend section accepts, whatever its plugin declares: Lithops lets any
#: of them be passed to ``FunctionExecutor(**kwargs)``, and a backend may ignore those it
#: cannot honour (localhost has no ``runtime_memory``).
#: A backend's own declaration of one of these keys replaces the spec here.
COMMON_COMPUTE_KEYS: Mapping[str, KeySpec] = {
    "runtime": KeySpec(
        (str, type(None)), "the runtime calls run in (a python path, an image, a function name)"
    ),
    "runtime_memory": KeySpec(_INT, "memory per worker in MB", check=check_positive),
    "runtime_timeout": KeySpec(
        _NUM, "platform timeout of one invocation, in seconds", check=check_positive
    ),
    "max_workers": KeySpec(_INT, "most calls running at once", check=check_at_least_one),
    "worker_processes": worker_processes_spec("parallel calls per worker (a number or AUTO)"),
    "user_agent": KeySpec(_STR, "set by lithops"),
}

#: Keys every storage backend section accepts.
COMMON_STORAGE_KEYS: Mapping[str, KeySpec] = {
    "storage_bucket": KeySpec(_STR, "bucket for lithops' own data"),
    "user_agent": KeySpec(_STR, "set by lithops"),
}
