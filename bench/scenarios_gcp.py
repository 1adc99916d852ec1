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
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from registry import BenchContext, Case, Check, Measurement, ScenarioReport, scenario

__all__ = ["gcp_functions_on_fakes"]

REPO = Path(__file__).resolve().parent.parent
CALLS = 1_000
MAX_WORKERS = 16
PROJECT = "lithops-bench"
REGION = "us-east1"
#: The rows' bars are the AWS rows' (Lithops' published figures on Lambda: all 1,000
#: invocations sent in 1.4 s; completion noticed ~1.7 s after a call ends, by listing storage).
LITHOPS_DISPATCH_S = 1.4
LITHOPS_NOTICE_S = 1.7
#: Lithops on Google Cloud Functions, its 2022 benchmark of 1,000 calls (as issue 9 cites it):
#: p99 of the calls' start 65 s, 112 s in all (42 s on Lambda).
LITHOPS_GCF_P99_START_S = 65.0
LITHOPS_GCF_TOTAL_S = 112.0


def _noop(x: int) -> int:
    return x


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


def _one_map(fexec: Any) -> dict[str, float]:
    sent = _invoke_times(fexec)
    wall_start = time.time()  # the workers' timestamps are time.time() of this machine
    start = time.perf_counter()
    futures = fexec.map(_noop, range(CALLS))
    queued = time.perf_counter() - start
    assert fexec.get_result(futures, timeout=900) == list(range(CALLS))
    done = time.perf_counter() - start
    notice = [
        f.stats["host_status_done_tstamp"] - f.stats["worker_end_tstamp"]
        for f in futures
        if "worker_end_tstamp" in f.stats and "host_status_done_tstamp" in f.stats
    ]
    began = sorted(
        f.stats["worker_start_tstamp"] for f in futures if "worker_start_tstamp" in f.stats
    )
    return {
        "queued": queued,
        "first_wave": sorted(sent)[min(MAX_WORKERS, len(sent)) - 1] - start,
        "last_sent": max(sent) - start,
        "invocations": float(len(sent)),
        "done": done,
        "p99_start": began[int(len(began) * 0.99) - 1] - wall_start if began else float("nan"),
        "notice_median": statistics.median(notice),
        "notice_p95": sorted(notice)[int(len(notice) * 0.95) - 1],
    }


def _single_notice(fexec: Any) -> float:
    future = fexec.call_async(_noop, 1)
    future.result(timeout=120)
    return float(future.stats["host_status_done_tstamp"] - future.stats["worker_end_tstamp"])


@scenario(
    "g",
    "(g) gcp_functions on functions-framework: dispatch of 1,000 calls, completion notice",
    default=False,
)
def gcp_functions_on_fakes(ctx: BenchContext) -> ScenarioReport:
    sys.path.insert(0, str(REPO / "tests" / "gcp"))
    from fake_cloud_functions import FakeCloudFunctions
    from gcs_emulator import start_gcs_emulator

    queued = Case(f"{CALLS:,} calls: map() returns (serialized, batched, queued)")
    first = Case(f"{CALLS:,} calls: first {MAX_WORKERS} invocations sent (max_workers)")
    last = Case(f"{CALLS:,} calls: last invocation sent (every call handed to the function)")
    p99 = Case(f"{CALLS:,} calls: p99 of the calls' start in the function, from map()")
    total = Case(f"{CALLS:,} calls: all results in hand")
    notice = Case("a call's return in the function -> its future done (median of the map)")
    single = Case("the same, a single call_async")
    report = ScenarioReport(cases=[queued, first, last, p99, total, notice, single])
    repeats = 1 if ctx.quick else 3
    saved = dict(os.environ)
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
            for name in ("GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_CLOUD_PROJECT"):
                os.environ.pop(name, None)
            os.environ.update(_env(emulator.endpoint, home))
            import lithops

            config = _config(functions.endpoint)
            with lithops.FunctionExecutor(config=config) as fexec:
                fexec.get_result(fexec.map(_noop, range(MAX_WORKERS)))  # deploy + warm
                for i in range(repeats):
                    ctx.log(f"(g) gcp_functions: {CALLS} calls, run {i + 1}/{repeats}")
                    runs.append(_one_map(fexec))
                for _ in range(3 if ctx.quick else 5):
                    singles.append(_single_notice(fexec))
                in_flight = max(f.most_in_flight for f in functions.front_ends.values())
        except Exception as exc:
            report.notes.append(f"run failed: {type(exc).__name__}: {exc}")
        finally:
            os.environ.clear()
            os.environ.update(saved)
            functions.stop()
            emulator.stop()

    def cell(key: str) -> Measurement:
        return Measurement(samples=[r[key] for r in runs]) if runs else Measurement(error="no run")

    peer = "ours (functions-framework)"
    queued.cells[peer] = cell("queued")
    first.cells[peer] = cell("first_wave")
    last.cells[peer] = cell("last_sent")
    p99.cells[peer] = cell("p99_start")
    total.cells[peer] = cell("done")
    notice.cells[peer] = cell("notice_median")
    single.cells[peer] = Measurement(samples=singles) if singles else Measurement(error="none")
    if runs:
        invocations = int(runs[0]["invocations"])
        per = -(-CALLS // invocations)
        last.notes.append(
            f"{invocations} synchronous HTTPS invocations of ~{per} calls (the scheduler batches "
            f"for max_workers={MAX_WORKERS}; at most {in_flight} were in flight at the function's "
            f"front end); each waits for its response, which carries the batch's results"
        )
        notice.notes.append(
            f"p95 {statistics.median(r['notice_p95'] for r in runs):.3f} s: a call waits in "
            f"its invocation for the batch's later calls; the response carries all of them"
        )
    last.notes.append(
        f"Lithops (published, Lambda): all 1,000 invocations sent in {LITHOPS_DISPATCH_S} s"
    )
    p99.notes.append(
        f"Lithops on Cloud Functions (its 2022 benchmark, 1,000 calls): p99 start "
        f"{LITHOPS_GCF_P99_START_S:.0f} s"
    )
    total.notes.append(
        f"Lithops on Cloud Functions (same benchmark): {LITHOPS_GCF_TOTAL_S:.0f} s in all, "
        f"through Pub/Sub triggers and GCS listing"
    )
    single.notes.append(
        f"Lithops (published, Lambda): completion noticed ~{LITHOPS_NOTICE_S} s after a call ends "
        f"(storage listed every few seconds, on GCS as well); ours: the response is the notice"
    )
    report.notes.append(
        "one functions-framework (gunicorn) process on this machine (2 cores shared with the "
        "client, the fakes and the storage emulator); Cloud Functions scales instances out, "
        "so the real service runs the batches side by side where this one queues them"
    )
    report.checks.append(
        Check("(g) map() of 1,000 calls returns (s)", queued.cells[peer].value, LITHOPS_DISPATCH_S)
    )
    report.checks.append(
        Check("(g) single call completion notice (s)", single.cells[peer].value, LITHOPS_NOTICE_S)
    )
    return report
