"""The cost column of ``fexec.job_summary()`` on aws_lambda: billed duration * memory * price
plus requests, from the price table in the config; ``plot()`` works as on any backend."""

from __future__ import annotations

import base64
import csv
import time
from pathlib import Path
from typing import Any

import pytest

import lithops
from lithops.errors import ConfigError

DEADLINE = 240


def nap(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def test_job_summary_prices_billed_gb_seconds_and_requests(
    lambda_config: dict[str, Any], tmp_path: Path
) -> None:
    # Legible prices: $1 per GB-second, $0.5 per request; the functions have 256 MB.
    lambda_config["aws_lambda"]["price_per_gb_s"] = {"x86_64": 1.0, "arm64": 9.0}
    lambda_config["aws_lambda"]["price_per_request"] = 0.5
    with lithops.FunctionExecutor(config=lambda_config) as fexec:
        assert fexec.map(nap, [0.3] * 4).get_result(timeout=DEADLINE) == [0.3] * 4
        fexec.call_async(nap, 0.0).result(timeout=DEADLINE)
        handle = fexec.compute_handle
        with open(fexec.job_summary()) as summary:
            rows = list(csv.DictReader(summary))
        plots = fexec.plot(dst=str(tmp_path / "plot"))
    assert [r["calls"] for r in rows] == ["4", "1"]
    # moto reports no REPORT line in the log tail: the handler's own duration is billed.
    assert handle.billed_from == {"handler"}
    invocations, billed_ms = handle.usage[rows[0]["job_key"]]
    assert invocations == 4 and billed_ms >= 4 * 300
    cost = float(rows[0]["cost"])
    assert cost == pytest.approx(billed_ms / 1000 * 256 / 1024 * 1.0 + 4 * 0.5)
    # Each call slept 0.3 s inside a handler that ran at most a few seconds.
    assert 4 * 0.5 + 4 * 0.3 * 0.25 <= cost < 4 * 0.5 + 4 * 10 * 0.25
    assert 0.5 <= float(rows[1]["cost"]) < 0.5 + 10 * 0.25
    assert plots and all(Path(p).exists() for p in plots)


def test_the_billed_duration_of_lambdas_report_line_wins(lambda_config: dict[str, Any]) -> None:
    with lithops.FunctionExecutor(config=lambda_config) as fexec:
        fexec.call_async(nap, 0.0).result(timeout=DEADLINE)
        handle = fexec.compute_handle
    report = (
        "START RequestId: r1 Version: $LATEST\nEND RequestId: r1\nREPORT RequestId: r1\t"
        "Duration: 1234.56 ms\tBilled Duration: 1235 ms\tMemory Size: 256 MB\t"
        "Max Memory Used: 80 MB\n"
    )
    response = {"LogResult": base64.b64encode(report.encode()).decode()}
    handle._bill("E/J-report", response, {"duration_ms": 3.0})
    assert handle.usage["E/J-report"] == [1, 1235]
    assert "report" in handle.billed_from


def test_default_prices_are_lambdas_by_architecture(lambda_config: dict[str, Any]) -> None:
    from lithops_aws.lambda_config import LambdaSettings

    assert LambdaSettings.from_config(lambda_config, None).price_per_gb_s == 0.0000166667
    lambda_config["aws_lambda"]["architecture"] = "arm64"
    settings = LambdaSettings.from_config(lambda_config, None)
    assert settings.price_per_gb_s == 0.0000133334
    assert settings.price_per_request == 0.0000002
    lambda_config["aws_lambda"]["price_per_gb_s"] = {"risc-v": 1}
    with pytest.raises(ConfigError, match="risc-v"):
        LambdaSettings.from_config(lambda_config, None)
