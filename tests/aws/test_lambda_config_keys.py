"""aws_lambda and aws_s3 declare their keys as typed KeySpecs: a bad value fails when the
executor is created (before anything is deployed), naming the key and what is allowed."""

from __future__ import annotations

from typing import Any

import pytest

import lithops
from lithops.errors import ConfigError


def config(**section: Any) -> dict[str, Any]:
    return {
        "lithops": {"backend": "aws_lambda", "storage": "aws_s3"},
        "aws": {"region": "us-east-1"},
        "aws_lambda": {"execution_role": "arn:aws:iam::123456789012:role/r", **section},
        "aws_s3": {"storage_bucket": "b"},
    }


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"runtime_memory": 64}, "runtime_memory.*128 to 10240"),
        ({"runtime_timeout": 901}, "runtime_timeout.*1 to 900"),
        ({"architecture": "sparc"}, "architecture"),
        ({"runtime_memory": "1GB"}, "runtime_memory"),
        ({"env_vars": ["A=1"]}, "env_vars"),
        ({"price_per_gb_s": {"risc-v": 1.0}}, "price_per_gb_s.*risc-v"),
        ({"price_per_request": -1}, "price_per_request"),
        ({"runtime_memroy": 512}, "runtime_memroy"),
    ],
)
def test_a_bad_value_fails_when_the_executor_is_created(
    section: dict[str, Any], message: str, lithops_home: Any
) -> None:
    with pytest.raises(ConfigError, match=message):
        lithops.FunctionExecutor(config=config(**section))


def test_good_values_pass_and_nothing_is_deployed_yet(lithops_home: Any) -> None:
    good = config(runtime_memory=512, architecture="arm64", price_per_gb_s={"arm64": 0.00001})
    with lithops.FunctionExecutor(config=good) as fexec:
        assert fexec.backend == "aws_lambda"
        assert fexec.compute_handle is None


def test_aws_s3_keys_are_checked_too(lithops_home: Any) -> None:
    bad = config()
    bad["aws_s3"]["storage_bucket"] = 42
    with pytest.raises(ConfigError, match="storage_bucket"):
        lithops.FunctionExecutor(config=bad)
