"""The config keys of Lithops' ``gcp``, ``gcp_storage`` and ``gcp_functions`` sections.

Kept apart from the backends so that registering them imports no Google library.
"""

from __future__ import annotations

from collections.abc import Mapping

from lithops.plugins.types import KeySpec

__all__ = ["PROVIDER_KEYS", "STORAGE_KEYS"]

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
