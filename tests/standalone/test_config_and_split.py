"""Config parsing and batch splitting: no hosts needed."""

from __future__ import annotations

import pickle
from pathlib import Path

import cloudpickle
import pytest

from lithops import wire
from lithops.errors import ConfigError
from lithops_standalone.config import HostSpec, is_docker_runtime, parse_hosts, parse_settings
from lithops_standalone.split import plan, split_message


def test_lithops_vm_keys_describe_one_host() -> None:
    config = {
        "vm": {
            "ip_address": "10.0.0.5",
            "ssh_username": "ubuntu",
            "ssh_key_filename": "~/.ssh/id_rsa",
            "worker_processes": 3,
        }
    }
    (host,) = parse_hosts(config)
    assert (host.address, host.user, host.port, host.worker_processes) == (
        "10.0.0.5",
        "ubuntu",
        22,
        3,
    )
    assert host.key_filename is not None and not host.key_filename.startswith("~")


def test_hosts_list_entries_inherit_and_override_section_keys() -> None:
    config = {
        "ssh": {
            "ssh_username": "alice",
            "ssh_password": "secret",
            "worker_processes": "AUTO",
            "hosts": [
                "10.0.0.1",
                "bob@10.0.0.2:2222",
                {"address": "10.0.0.3", "worker_processes": 8},
            ],
        }
    }
    hosts = parse_hosts(config)
    assert [h.name for h in hosts] == ["alice@10.0.0.1", "bob@10.0.0.2:2222", "alice@10.0.0.3"]
    assert [h.worker_processes for h in hosts] == [None, None, 8]
    assert all(h.password == "secret" for h in hosts)
    assert "secret" not in repr(hosts)


def test_bad_host_entries_are_config_errors_naming_the_key() -> None:
    with pytest.raises(ConfigError, match=r"ssh\.hosts"):
        parse_hosts({"ssh": {}})
    with pytest.raises(ConfigError, match=r"hosts\[0\]"):
        parse_hosts({"ssh": {"hosts": [{"address": "a", "colour": "red"}]}})
    with pytest.raises(ConfigError, match="worker_processes"):
        parse_hosts({"ssh": {"hosts": [{"address": "a", "worker_processes": 0}]}})


def test_standalone_settings_follow_lithops_defaults_and_consume_never_auto_dismantles() -> None:
    settings = parse_settings(
        {"standalone": {"auto_dismantle": True, "soft_dismantle_timeout": 10}}
    )
    assert settings.exec_mode == "consume" and settings.auto_dismantle is False
    assert settings.soft_dismantle_timeout == 10 and settings.hard_dismantle_timeout == 3600
    # The backend's own section may carry standalone keys too (as in Lithops).
    assert parse_settings({"ssh": {"start_timeout": 7}}).start_timeout == 7
    with pytest.raises(ConfigError, match="exec_mode"):
        parse_settings({"standalone": {"exec_mode": "borrow"}})


def test_runtime_names_a_docker_image_unless_it_is_python3_or_a_path() -> None:
    assert not is_docker_runtime(None)
    assert not is_docker_runtime("python3")
    assert not is_docker_runtime("/usr/bin/python3.11")
    assert is_docker_runtime("python:3.11-slim")


def test_plan_fills_free_slots_first_then_queues_by_capacity() -> None:
    assert plan(4, [2, 2], [0, 0]) == [2, 2]
    assert plan(3, [2, 2], [2, 0]) == [1, 2]  # the busy host only gets the overflow
    assert plan(10, [1, 3], [0, 0]) == [3, 7]
    assert sum(plan(7, [4, 4, 1], [4, 4, 1])) == 7


def test_split_message_slices_calls_and_arguments_in_order() -> None:
    args = [((i,), {}) for i in range(5)]
    message = {
        "t": "batch",
        "job_key": "e/j",
        "func_key": "f",
        "func": b"F",
        "calls": [str(i) for i in range(5)],
        "args": cloudpickle.dumps(args),
        "timeout": None,
    }
    parts = split_message(wire.decode(wire.encode(message)), [2, 0, 3])
    assert parts[1] is None
    first, third = parts[0], parts[2]
    assert first is not None and third is not None
    assert first["calls"] == ["0", "1"] and third["calls"] == ["2", "3", "4"]
    assert pickle.loads(first["args"]) == args[:2] and pickle.loads(third["args"]) == args[2:]
    assert first["func"] == third["func"] == b"F"


def test_host_spec_name_hides_the_default_port() -> None:
    assert HostSpec("h", 22, "u").name == "u@h"
    assert HostSpec("h", 2222, "u").name == "u@h:2222"


def test_the_attach_message_carries_settings_but_no_credentials() -> None:
    from lithops import wire
    from lithops_standalone.config import StandaloneSettings
    from lithops_standalone.host import attach_message

    spec = HostSpec("10.0.0.9", 22, "u", key_filename="/keys/id_secret", password="hunter2")
    payload = wire.encode(attach_message(spec, StandaloneSettings(runtime="img:1"), None))
    assert b"hunter2" not in payload and b"id_secret" not in payload
    assert wire.decode(payload)["runtime"] == "img:1"


def test_a_host_known_by_another_key_type_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import paramiko

    from lithops_standalone.errors import HostKeyChangedError
    from lithops_standalone.known_hosts import TrustOnFirstUse, known_hosts_path

    monkeypatch.setenv("HOME", str(tmp_path))
    policy, client = TrustOnFirstUse(), paramiko.SSHClient()
    first = paramiko.Ed25519Key.from_private_key_file(_new_ed25519(tmp_path))
    policy.missing_host_key(client, "[10.0.0.1]:2222", first)
    assert "[10.0.0.1]:2222" in known_hosts_path().read_text()
    other = paramiko.RSAKey.generate(1024)
    with pytest.raises(HostKeyChangedError, match=r"forget-host 10\.0\.0\.1"):
        policy.missing_host_key(client, "[10.0.0.1]:2222", other)


def _new_ed25519(tmp_path: Path) -> str:
    import subprocess

    path = tmp_path / "hostkey"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return str(path)
