"""The config keys of Lithops' ``gcp``, ``gcp_storage`` and ``gcp_functions`` sections.

Kept apart from the backends so that registering them imports no Google library.
"""

from __future__ import annotations

from collections.abc import Mapping

from lithops.plugins.types import KeySpec

__all__ = [
    "DEFAULT_PRICE_PER_GB_S",
    "DEFAULT_PRICE_PER_GHZ_S",
    "DEFAULT_PRICE_PER_REQUEST",
    "FUNCTIONS_KEYS",
    "MEMORY_TIERS_MB",
    "PROVIDER_KEYS",
    "STORAGE_KEYS",
]

#: The keys of Lithops' ``gcp`` section (shared by every GCP backend's section).
PROVIDER_KEYS: Mapping[str, KeySpec] = {
    "region": KeySpec((str,), "the region functions and buckets live in (e.g. us-east1)"),
    "project_name": KeySpec((str,), "the Google Cloud project id"),
    "credentials_path": KeySpec(
        (str,), "a service account key file (default: Application Default Credentials)"
    ),
}

STORAGE_KEYS: Mapping[str, KeySpec] = {
    "storage_bucket": KeySpec(
        (str,), "bucket for lithops' data (default lithops-<project>-<region>)"
    ),
    "region": KeySpec((str,), "location of a bucket lithops creates (default: the gcp section's)"),
    "api_endpoint": KeySpec(
        (str,), "Cloud Storage endpoint URL (default: STORAGE_EMULATOR_HOST, else Google's)"
    ),
    "project_name": KeySpec((str,), "the project (default: the gcp section's)"),
    "credentials_path": KeySpec((str,), "credentials file (default: the gcp section's)"),
}

#: Cloud Functions' memory tiers in MB (2nd gen).
MEMORY_TIERS_MB = (128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768)


def _timeout(value: object) -> str | None:
    if isinstance(value, (int, float)) and 1 <= value <= 3600:
        return None
    return "must be from 1 to 3600 seconds (the longest an HTTP function may run)"


def _memory_tier(value: object) -> str | None:
    if value in MEMORY_TIERS_MB:
        return None
    return (
        f"is not a Cloud Functions memory size: use one of {', '.join(map(str, MEMORY_TIERS_MB))}"
    )


#: Cloud Functions (2nd gen) Tier 1 list prices in US dollars, without the free tier: per
#: GB-second of memory, per GHz-second of CPU, per request.
DEFAULT_PRICE_PER_GB_S = 0.0000025
DEFAULT_PRICE_PER_GHZ_S = 0.0000100
DEFAULT_PRICE_PER_REQUEST = 0.0000004


def _price(value: object) -> str | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
        return None
    return "must be a price in US dollars (0 or more)"


def _positive(value: object) -> str | None:
    return None if isinstance(value, int) and value >= 1 else "must be 1 or more"


def _trigger(value: object) -> str | None:
    if str(value).lower() == "https":
        return None
    return (
        "only 'https' is supported: calls are invoked synchronously and their results come "
        "back in the response ('pub/sub' retries failed calls and runs them twice)"
    )


FUNCTIONS_KEYS: Mapping[str, KeySpec] = {
    "runtime": KeySpec(
        (str, type(None)), "empty for the default runtime (this client's code, deployed as a zip)"
    ),
    "runtime_memory": KeySpec(
        (int,), "memory of a function in MB (default 256)", 256, check=_memory_tier
    ),
    "runtime_timeout": KeySpec(
        (int,), "timeout of one invocation in seconds (default 300)", 300, check=_timeout
    ),
    "max_workers": KeySpec(
        (int,), "most invocations in flight (default 1000)", 1000, check=_positive
    ),
    "worker_processes": KeySpec(
        (int,), "calls per invocation run one after another (default 1)", 1, check=_positive
    ),
    "invoke_pool_threads": KeySpec(
        (int,), "threads that invoke (default: max_workers, at most 128)", check=_positive
    ),
    "trigger": KeySpec((str,), "how functions are invoked", "https", check=_trigger),
    "region": KeySpec((str,), "the functions' region (default: the gcp section's, else us-east1)"),
    "project_name": KeySpec((str,), "the project (default: the gcp section's)"),
    "credentials_path": KeySpec((str,), "credentials file (default: the gcp section's)"),
    "api_endpoint": KeySpec((str,), "Cloud Functions admin API URL (default: Google's)"),
    "service_account": KeySpec(
        (str,), "email of the service account functions run as (default: the project's)"
    ),
    "env_vars": KeySpec((dict,), "environment variables of the functions", {}),
    "labels": KeySpec((dict,), "labels added to the functions", {}),
    "namespace": KeySpec((str,), "a word in the function names, to keep several users apart"),
    "payload_limit": KeySpec(
        (int,),
        "bytes of a request or response above which it travels through storage (default "
        "31000000, under Cloud Functions' 32 MB limit)",
        31_000_000,
        check=_positive,
    ),
    "price_per_gb_s": KeySpec(
        (int, float),
        f"US dollars per GB-second of memory (default {DEFAULT_PRICE_PER_GB_S})",
        DEFAULT_PRICE_PER_GB_S,
        check=_price,
    ),
    "price_per_ghz_s": KeySpec(
        (int, float),
        f"US dollars per GHz-second of CPU (default {DEFAULT_PRICE_PER_GHZ_S})",
        DEFAULT_PRICE_PER_GHZ_S,
        check=_price,
    ),
    "price_per_request": KeySpec(
        (int, float),
        f"US dollars per request (default {DEFAULT_PRICE_PER_REQUEST})",
        DEFAULT_PRICE_PER_REQUEST,
        check=_price,
    ),
}
