"""The ``lithops`` joblib backend on aws_lambda + aws_s3 (moto's server, functions in
containers): large values reach the functions through S3, not in their 100 kB payloads."""

from __future__ import annotations

from typing import Any

import joblib
import pytest

from lithops.util.joblib import register_lithops
from lithops.util.joblib.backend import LithopsBackend


class TooBigError(ValueError):
    pass


def checked_size(blob: bytes, i: int) -> int:
    if i < 0:
        raise TooBigError(f"bad index {i}")
    return len(blob) + i


@pytest.mark.timeout(400)
def test_joblib_on_lambda_sends_a_large_value_once_through_s3(
    lambda_config: dict[str, Any],
) -> None:
    register_lithops()
    blob = b"y" * (2 << 20)  # 20 times the payload limit of lambda_config
    b = LithopsBackend(config=lambda_config)
    with joblib.parallel_backend(b, n_jobs=2):
        out = joblib.Parallel(batch_size=1)(joblib.delayed(checked_size)(blob, i) for i in range(4))
        assert out == [len(blob) + i for i in range(4)]
        assert b.shares_storage and b.objects_stored == 1 and b.payload_bytes < 4 * 10_000
        with pytest.raises(TooBigError, match="bad index -1"):
            joblib.Parallel()(joblib.delayed(checked_size)(b"", i) for i in [0, -1])
