"""The ``lithops`` joblib backend on the SSH test hosts: tasks run there, results in order,
exceptions with their type, large values through the storage (the hosts have only Python,
no joblib: plain tasks must not need it there)."""

from __future__ import annotations

import socket
from typing import Any

import joblib
import pytest
from standalone_helpers import ssh_config

from lithops.util.joblib import register_lithops
from lithops.util.joblib.backend import LithopsBackend

pytestmark = pytest.mark.ssh


class NegativeError(ArithmeticError):
    pass


def where(x: int) -> tuple[int, str]:
    if x < 0:
        raise NegativeError(f"negative: {x}")
    return x * 10, socket.gethostname()


def blob_size(blob: bytes, i: int) -> int:
    return len(blob) + i


def test_joblib_tasks_run_on_the_ssh_hosts(ssh_hosts: list[Any], lithops_home: Any) -> None:
    register_lithops()
    config = ssh_config(ssh_hosts, workers=2)
    with joblib.parallel_backend("lithops", config=config):
        assert joblib.effective_n_jobs(-1) == 2
        out = joblib.Parallel(n_jobs=4, batch_size=2)(joblib.delayed(where)(i) for i in range(12))
        assert [x for x, _ in out] == [i * 10 for i in range(12)]
        assert {h for _, h in out} <= {h.name for h in ssh_hosts}
        assert socket.gethostname() not in {h for _, h in out}
        with pytest.raises(NegativeError, match="negative: -1"):
            joblib.Parallel(n_jobs=2)(joblib.delayed(where)(i) for i in [1, -1, 2])


def test_with_the_localhost_storage_large_values_travel_in_the_payload(
    ssh_hosts: list[Any], lithops_home: Any
) -> None:
    # The hosts cannot read files of this machine's storage: the value goes with each call.
    blob = b"x" * (3 << 20)
    b = LithopsBackend(config=ssh_config(ssh_hosts, workers=2))
    with joblib.parallel_backend(b, n_jobs=2):
        out = joblib.Parallel(batch_size=1)(joblib.delayed(blob_size)(blob, i) for i in range(4))
    assert out == [len(blob) + i for i in range(4)]
    assert not b.shares_storage and b.objects_stored == 0
