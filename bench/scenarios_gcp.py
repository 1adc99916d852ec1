"""Serverless scenario (g): gcp_functions, dispatch and completion notice of 1,000 calls.

The function really runs: ``functions-framework`` serves the deployed worker package, behind
the FAKE Cloud Functions admin API of the tests (tests/gcp/fake_cloud_functions.py: deploy,
get, list, and a front end per function standing in for Cloud Run's), with fake-gcs-server as
the storage. Both are started here on loopback and stopped at the end. Not a default
scenario: ``.venv/bin/python bench/run.py --scenarios g``. There is no second peer in the same
run (Lithops 3.8's gcp_functions deploys through Cloud Build, which nothing here runs): Lithops'
published figures are in the notes for comparison.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from registry import BenchContext, ScenarioReport, scenario
from serverless_dispatch import (
    LITHOPS_DISPATCH_S,
    LITHOPS_NOTICE_S,
    MAX_WORKERS,
    DispatchCases,
    environment,
    run_workload,
)

__all__ = ["gcp_functions_on_fakes"]

REPO = Path(__file__).resolve().parent.parent
PROJECT = "lithops-bench"
REGION = "us-east1"
#: Lithops on Google Cloud Functions, its 2022 benchmark of 1,000 calls (as issue 9 cites it):
#: p99 of the calls' start 65 s, 112 s in all (42 s on Lambda). The rows' bars are the AWS
#: rows' (Lithops' published figures on Lambda).
LITHOPS_GCF_P99_START_S = 65.0
LITHOPS_GCF_TOTAL_S = 112.0


def _env(storage_endpoint: str, home: str) -> dict[str, str]:
    return {
        "STORAGE_EMULATOR_HOST": storage_endpoint,
        "NO_GCE_CHECK": "true",  # google-auth never probes the metadata server
        "CLOUDSDK_CONFIG": os.path.join(home, "no-gcloud-config"),
        "NO_PROXY": "127.0.0.1,localhost",
        "HOME": home,
    }


def _config(functions_endpoint: str) -> dict[str, Any]:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    bucket = f"lithops-bench-{uuid.uuid4().hex[:10]}"
    storage.Client(project=PROJECT, credentials=AnonymousCredentials()).create_bucket(bucket)
    return {
        "lithops": {"backend": "gcp_functions", "storage": "gcp_storage"},
        "gcp": {"project_name": PROJECT, "region": REGION},
        "gcp_functions": {
            "api_endpoint": functions_endpoint,
            "runtime_memory": 256,
            "runtime_timeout": 120,
            "max_workers": MAX_WORKERS,
        },
        "gcp_storage": {"storage_bucket": bucket},
    }


def _invoke_times(fexec: Any) -> list[float]:
    """perf_counter of each invocation request as it leaves the client."""
    caller = fexec.compute_handle.caller
    session = caller.session
    sent: list[float] = []
    lock = threading.Lock()
    post = type(session).post

    def timed_post(self: Any, url: str, *args: Any, **kwargs: Any) -> Any:
        if url == caller.uri:
            with lock:
                sent.append(time.perf_counter())
        return post(self, url, *args, **kwargs)

    session.post = timed_post.__get__(session)
    return sent


@scenario(
    "g",
    "(g) gcp_functions on functions-framework: dispatch of 1,000 calls, completion notice",
    default=False,
)
def gcp_functions_on_fakes(ctx: BenchContext) -> ScenarioReport:
    sys.path.insert(0, str(REPO / "tests" / "gcp"))
    from fake_cloud_functions import FakeCloudFunctions
    from gcs_emulator import start_gcs_emulator

    cases = DispatchCases(handed_to="the function", p99=True)
    report = cases.report()
    runs: list[dict[str, float]] = []
    singles: list[float] = []
    in_flight = 0
    with tempfile.TemporaryDirectory(prefix="lithops-bench-gcp-") as home:
        try:
            emulator = start_gcs_emulator(Path(home))
        except Exception as exc:  # the emulator's binary missing, or it does not answer
            report.notes.append(f"scenario skipped: {type(exc).__name__}: {exc}")
            return report
        functions = FakeCloudFunctions(Path(home) / "functions")
        try:
            with environment(
                _env(emulator.endpoint, home),
                drop=("GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_CLOUD_PROJECT"),
            ):
                import lithops

                config = _config(functions.endpoint)
                with lithops.FunctionExecutor(config=config) as fexec:
                    run_workload(ctx, fexec, "(g) gcp_functions", _invoke_times, runs, singles)
                    in_flight = max(f.most_in_flight for f in functions.front_ends.values())
        except Exception as exc:
            report.notes.append(f"run failed: {type(exc).__name__}: {exc}")
        finally:
            functions.stop()
            emulator.stop()

    def batches_note(invocations: int, per: int) -> str:
        return (
            f"{invocations} synchronous HTTPS invocations of ~{per} calls (the scheduler batches "
            f"for max_workers={MAX_WORKERS}; at most {in_flight} were in flight at the function's "
            f"front end); each waits for its response, which carries the batch's results"
        )

    cases.fill(report, "ours (functions-framework)", runs, singles, "g", batches_note)
    cases.last.notes.append(
        f"Lithops (published, Lambda): all 1,000 invocations sent in {LITHOPS_DISPATCH_S} s"
    )
    assert cases.p99 is not None
    cases.p99.notes.append(
        f"Lithops on Cloud Functions (its 2022 benchmark, 1,000 calls): p99 start "
        f"{LITHOPS_GCF_P99_START_S:.0f} s"
    )
    cases.total.notes.append(
        f"Lithops on Cloud Functions (same benchmark): {LITHOPS_GCF_TOTAL_S:.0f} s in all, "
        f"through Pub/Sub triggers and GCS listing"
    )
    cases.single.notes.append(
        f"Lithops (published, Lambda): completion noticed ~{LITHOPS_NOTICE_S} s after a call ends "
        f"(storage listed every few seconds, on GCS as well); ours: the response is the notice"
    )
    report.notes.append(
        "one functions-framework (gunicorn) process on this machine (2 cores shared with the "
        "client, the fakes and the storage emulator); Cloud Functions scales instances out, "
        "so the real service runs the batches side by side where this one queues them"
    )
    return report
