"""The cost column of ``fexec.job_summary()`` on gcp_functions: each request's billed time
(the handler's measured duration, in 100 ms steps) * (memory price + its tier's CPU price)
plus requests, from the price keys of the gcp_functions section; ``plot()`` works as on any
backend."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
from serverless_helpers import sleep_for

import lithops
from lithops.errors import ConfigError

DEADLINE = 120


def test_job_summary_prices_billed_time_memory_cpu_and_requests(
    gcf_config: dict[str, Any], tmp_path: Path
) -> None:
    # Legible prices: $1 per GB-second, $0.5 per GHz-second, $0.25 per request; the
    # functions have 256 MB, whose tier has 0.4 GHz.
    section = gcf_config["gcp_functions"]
    section.update(price_per_gb_s=1.0, price_per_ghz_s=0.5, price_per_request=0.25)
    with lithops.FunctionExecutor(config=gcf_config) as fexec:
        assert fexec.map(sleep_for, [0.3] * 4).get_result(timeout=DEADLINE) == [0.3] * 4
        fexec.call_async(sleep_for, 0.0).result(timeout=DEADLINE)
        handle = fexec.compute_handle
        with open(fexec.job_summary()) as summary:
            found = list(csv.DictReader(summary))
        plots = fexec.plot(dst=str(tmp_path / "plot"))
    assert [r["calls"] for r in found] == ["4", "1"]
    requests_made, billed_ms = handle.usage[found[0]["job_key"]]
    # One request per call; each billed in 100 ms steps, at least its 0.3 s of sleep.
    assert requests_made == 4 and billed_ms % 100 == 0 and billed_ms >= 4 * 300
    per_second = 256 / 1024 * 1.0 + 0.4 * 0.5
    assert float(found[0]["cost"]) == pytest.approx(billed_ms / 1000 * per_second + 4 * 0.25)
    # A call that does nothing is billed at least the smallest step, and no more than its
    # handler's few seconds at most.
    assert 0.1 * per_second + 0.25 <= float(found[1]["cost"]) < 10 * per_second + 0.25
    assert plots and all(Path(p).exists() for p in plots)


def test_default_prices_are_cloud_functions_tier_1_list_prices(
    gcf_config: dict[str, Any],
) -> None:
    from lithops_gcp.functions_config import GcfSettings

    settings = GcfSettings.from_config(gcf_config, None, "p")
    assert settings.price_per_gb_s == 0.0000025
    assert settings.price_per_ghz_s == 0.0000100
    assert settings.price_per_request == 0.0000004
    gcf_config["gcp_functions"]["price_per_request"] = -1
    with pytest.raises(ConfigError, match="price_per_request"):
        lithops.FunctionExecutor(config=gcf_config)
