"""Serverless scenario (l): aws_lambda on moto, dispatch and completion notice of 1,000 calls.

Needs the testbed (tests/testbed): a Docker engine, the Lambda image and ``moto_server`` (all
on this machine; every invocation runs in a fresh container of the image, ~0.3 s each).
Not a default scenario: ``python3 bench/run.py --scenarios l``. There is no second peer in
the same run (Lithops 3.8's aws_lambda needs a container-image runtime, which moto does not
run): Lithops' published figures are in the notes for comparison.
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

__all__ = ["lambda_on_moto"]

REPO = Path(__file__).resolve().parent.parent


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


@scenario("l", "(l) aws_lambda on moto: dispatch of 1,000 calls, completion notice", default=False)
def lambda_on_moto(ctx: BenchContext) -> ScenarioReport:
    sys.path.insert(0, str(REPO / "tests"))
    from testbed import (
        ensure_busybox_image,
        ensure_engine,
        ensure_lambda_image,
        start_moto,
    )

    cases = DispatchCases(handed_to="Lambda")
    report = cases.report()
    try:
        engine = ensure_engine()
        ensure_busybox_image(engine)
        image = ensure_lambda_image(engine)
        server = start_moto(engine.host, image)
    except Exception as exc:  # TestbedUnavailable, or an engine that does not answer
        report.notes.append(f"scenario skipped: {type(exc).__name__}: {exc}")
        return report
    runs: list[dict[str, float]] = []
    singles: list[float] = []
    try:
        with (
            tempfile.TemporaryDirectory(prefix="lithops-bench-lambda-") as home,
            environment(_env(server.endpoint, home)),
        ):
            import lithops

            config = _setup(server.endpoint)
            with lithops.FunctionExecutor(config=config) as fexec:
                run_workload(ctx, fexec, "(l) aws_lambda on moto", _invoke_times, runs, singles)
    except Exception as exc:
        report.notes.append(f"run failed: {type(exc).__name__}: {exc}")
    finally:
        server.stop()

    def batches_note(invocations: int, per: int) -> str:
        return (
            f"{invocations} synchronous invocations of ~{per} calls (the scheduler batches "
            f"for max_workers={MAX_WORKERS}); each waits for its result, so the last is sent "
            f"once earlier ones returned: moto runs each in a fresh container (~0.3 s, 2 cores)"
        )

    cases.fill(report, "ours (moto)", runs, singles, "l", batches_note)
    cases.last.notes.append(
        f"Lithops (published): all 1,000 invocations sent in {LITHOPS_DISPATCH_S} s, "
        f"asynchronously (InvocationType=Event), one per call, results found by listing storage"
    )
    cases.single.notes.append(
        f"Lithops (published): completion noticed ~{LITHOPS_NOTICE_S} s after a call ends "
        f"(storage polled every few seconds); ours: the synchronous response is the notice"
    )
    report.notes.append(
        "moto on this machine (2 cores shared with the client and other work); Lambda's real "
        "service starts thousands of containers at once, moto runs them on local Docker"
    )
    return report
