"""lithops-standalone's ``ssh`` backend passes the backend contract suite on real SSH hosts."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cloudpickle
import pytest
from standalone_helpers import ssh_config, wait_until

from lithops.testing import BackendContract, tasks

pytestmark = pytest.mark.ssh


class TestSshContract(BackendContract):
    backend = "ssh"

    @pytest.fixture
    def executor_config(self, ssh_hosts: list[Any], lithops_home: Path) -> Iterator[dict[str, Any]]:
        # `lithops.testing` imports pytest, which hosts do not have: ship the task functions
        # by value instead of by reference (see the report: the package should import lazily).
        cloudpickle.register_pickle_by_value(tasks)
        try:
            yield ssh_config(ssh_hosts)
        finally:
            cloudpickle.unregister_pickle_by_value(tasks)

    @pytest.fixture
    def hosts(self, ssh_hosts: list[Any]) -> list[Any]:
        return ssh_hosts

    def test_cancel_stops_a_running_call(  # type: ignore[override]
        self, fexec: Any, hosts: list[Any]
    ) -> None:
        # The suite's version reads a pid file on the client; here the call runs on a host.
        pid_file = f"/tmp/lithops-contract-{uuid.uuid4().hex[:8]}"
        future = fexec.call_async(tasks.pid_then_sleep, (pid_file, 600))

        def started() -> tuple[Any, str] | None:
            for host in hosts:
                code, out = host.exec(f"cat {pid_file}")
                if code == 0 and out.strip():
                    return host, out.strip()
            return None

        assert wait_until(lambda: started() is not None, self.call_deadline)
        found = started()
        assert found is not None
        host, pid = found
        assert future.cancel()
        assert future.cancelled()
        assert wait_until(lambda: host.exec(f"kill -0 {pid}")[0] != 0, 10)
        time.sleep(0)  # the worker that ran it was replaced; the executor still works
        assert fexec.call_async(tasks.identity, (1,)).result(timeout=self.call_deadline) == 1
