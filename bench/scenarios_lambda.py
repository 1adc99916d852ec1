"""Serverless scenario (l): aws_lambda on moto, dispatch and completion notice of 1,000 calls.

Needs the testbed (tests/testbed): a Docker engine, the Lambda image and ``moto_server`` (all
on this machine; every invocation runs in a fresh container of the image, ~0.3 s each).
Not a default scenario: ``python3 bench/run.py --scenarios l``. There is no second peer in
the same run (Lithops 3.8's aws_lambda needs a container-image runtime, which moto does not
run): Lithops' published figures are in the notes for comparison.
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

__all__ = ["lambda_on_moto"]

REPO = Path(__file__).resolve().parent.parent
CALLS = 1_000
MAX_WORKERS = 16
#: Lithops' published figures: all 1,000 invocations sent in 1.4 s; completion noticed ~1.7 s
#: after a call ends (it lists storage for status objects).
LITHOPS_DISPATCH_S = 1.4
LITHOPS_NOTICE_S = 1.7


def _noop(x: int) -> int:
    return x


def _env(endpoint: str, home: str) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_SHARED_CREDENTIALS_FILE": os.path.join(home, "none"),
        "AWS_CONFIG_FILE": os.path.join(home, "none"),
        "HOME": home,
    }


def _setup(endpoint: str) -> dict[str, Any]:
    import boto3

    role = boto3.client("iam").create_role(
        RoleName=f"bench-{uuid.uuid4().hex[:8]}", AssumeRolePolicyDocument="{}"
    )
    bucket = f"lithops-bench-{uuid.uuid4().hex[:10]}"
    boto3.client("s3").create_bucket(Bucket=bucket)
    return {
        "lithops": {"backend": "aws_lambda", "storage": "aws_s3"},
        "aws": {"region": "us-east-1"},
        "aws_lambda": {
            "execution_role": role["Role"]["Arn"],
            "runtime_memory": 256,
            "runtime_timeout": 120,
            "max_workers": MAX_WORKERS,
            "payload_limit": 100_000,
        },
        "aws_s3": {"storage_bucket": bucket},
    }


def _invoke_times(fexec: Any) -> list[float]:
    """perf_counter of each invoke request as it leaves the client (botocore's hook)."""
    sent: list[float] = []
    lock = threading.Lock()

    def record(**_: Any) -> None:
        with lock:
            sent.append(time.perf_counter())

    fexec.compute_handle.client.meta.events.register("before-send.lambda.Invoke", record)
    return sent


def _one_map(fexec: Any) -> dict[str, float]:
    sent = _invoke_times(fexec)
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
    return {
        "queued": queued,
        "first_wave": sorted(sent)[min(MAX_WORKERS, len(sent)) - 1] - start,
        "last_sent": max(sent) - start,
        "invocations": float(len(sent)),
        "done": done,
        "notice_median": statistics.median(notice),
        "notice_p95": sorted(notice)[int(len(notice) * 0.95) - 1],
    }


def _single_notice(fexec: Any) -> float:
    future = fexec.call_async(_noop, 1)
    future.result(timeout=120)
    return float(future.stats["host_status_done_tstamp"] - future.stats["worker_end_tstamp"])


@scenario("l", "(l) aws_lambda on moto: dispatch of 1,000 calls, completion notice", default=False)
def lambda_on_moto(ctx: BenchContext) -> ScenarioReport:
    sys.path.insert(0, str(REPO / "tests"))
    from testbed import (
        ensure_busybox_image,
        ensure_engine,
        ensure_lambda_image,
        start_moto,
    )

    queued = Case(f"{CALLS:,} calls: map() returns (serialized, batched, queued)")
    first = Case(f"{CALLS:,} calls: first {MAX_WORKERS} invocations sent (max_workers)")
    last = Case(f"{CALLS:,} calls: last invocation sent (every call handed to Lambda)")
    total = Case(f"{CALLS:,} calls: all results in hand")
    notice = Case("a call's return in the function -> its future done (median of the map)")
    single = Case("the same, a single call_async")
    report = ScenarioReport(cases=[queued, first, last, total, notice, single])
    repeats = 1 if ctx.quick else 3
    try:
        engine = ensure_engine()
        ensure_busybox_image(engine)
        image = ensure_lambda_image(engine)
        server = start_moto(engine.host, image)
    except Exception as exc:  # TestbedUnavailable, or an engine that does not answer
        report.notes.append(f"scenario skipped: {type(exc).__name__}: {exc}")
        return report
    saved = dict(os.environ)
    runs: list[dict[str, float]] = []
    singles: list[float] = []
    try:
        with tempfile.TemporaryDirectory(prefix="lithops-bench-lambda-") as home:
            os.environ.update(_env(server.endpoint, home))
            import lithops

            config = _setup(server.endpoint)
            with lithops.FunctionExecutor(config=config) as fexec:
                fexec.get_result(fexec.map(_noop, range(MAX_WORKERS)))  # deploy + warm
                for i in range(repeats):
                    ctx.log(f"(l) aws_lambda on moto: {CALLS} calls, run {i + 1}/{repeats}")
                    runs.append(_one_map(fexec))
                for _ in range(3 if ctx.quick else 5):
                    singles.append(_single_notice(fexec))
    except Exception as exc:
        report.notes.append(f"run failed: {type(exc).__name__}: {exc}")
    finally:
        os.environ.clear()
        os.environ.update(saved)
        server.stop()

    def cell(key: str) -> Measurement:
        return Measurement(samples=[r[key] for r in runs]) if runs else Measurement(error="no run")

    peer = "ours (moto)"
    queued.cells[peer] = cell("queued")
    first.cells[peer] = cell("first_wave")
    last.cells[peer] = cell("last_sent")
    total.cells[peer] = cell("done")
    notice.cells[peer] = cell("notice_median")
    single.cells[peer] = Measurement(samples=singles) if singles else Measurement(error="none")
    if runs:
        invocations = int(runs[0]["invocations"])
        per = -(-CALLS // invocations)
        last.notes.append(
            f"{invocations} synchronous invocations of ~{per} calls (the scheduler batches "
            f"for max_workers={MAX_WORKERS}); each waits for its result, so the last is sent "
            f"once earlier ones returned: moto runs each in a fresh container (~0.3 s, 2 cores)"
        )
        notice.notes.append(
            f"p95 {statistics.median(r['notice_p95'] for r in runs):.3f} s: a call waits in "
            f"its invocation for the batch's later calls; the response carries all of them"
        )
    last.notes.append(
        f"Lithops (published): all 1,000 invocations sent in {LITHOPS_DISPATCH_S} s, "
        f"asynchronously (InvocationType=Event), one per call, results found by listing storage"
    )
    single.notes.append(
        f"Lithops (published): completion noticed ~{LITHOPS_NOTICE_S} s after a call ends "
        f"(storage polled every few seconds); ours: the synchronous response is the notice"
    )
    report.notes.append(
        "moto on this machine (2 cores shared with the client and other work); Lambda's real "
        "service starts thousands of containers at once, moto runs them on local Docker"
    )
    report.checks.append(
        Check("(l) map() of 1,000 calls returns (s)", queued.cells[peer].value, LITHOPS_DISPATCH_S)
    )
    report.checks.append(
        Check("(l) single call completion notice (s)", single.cells[peer].value, LITHOPS_NOTICE_S)
    )
    return report
