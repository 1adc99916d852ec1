"""``lithops.serverless.builds``: built runtimes kept in the storage bucket (here the localhost
storage backend, real files under the test's home), found again by name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lithops.errors import ConfigError
from lithops.serverless.builds import (
    RuntimeNotBuiltError,
    build_key,
    check_runtime_name,
    load_build,
    read_requirements,
    store_build,
)
from lithops.storage import Storage


@pytest.fixture
def config(lithops_home: Path) -> dict[str, Any]:
    return {"lithops": {"storage": "localhost"}}


def test_a_stored_build_is_found_again_by_another_client_of_the_same_storage(
    config: dict[str, Any],
) -> None:
    where = store_build(config, "my_functions", "my_runtime", b"PK zip bytes")
    storage = Storage(config=config)
    assert where == f"{storage.bucket}/lithops.runtimes/my_functions/my_runtime.zip"
    assert storage.get_object(storage.bucket, build_key("my_functions", "my_runtime")) == (
        b"PK zip bytes"
    )
    assert load_build(dict(config), "my_functions", "my_runtime") == b"PK zip bytes"
    store_build(config, "my_functions", "my_runtime", b"rebuilt")  # the same name replaces it
    assert load_build(config, "my_functions", "my_runtime") == b"rebuilt"


def test_a_runtime_never_built_names_the_command_that_builds_it(config: dict[str, Any]) -> None:
    with pytest.raises(RuntimeNotBuiltError) as raised:
        load_build(config, "my_functions", "other")
    assert isinstance(raised.value, ConfigError)
    assert "lithops runtime build -f requirements.txt other -b my_functions" in str(raised.value)


@pytest.mark.parametrize("name", ["my_runtime", "rt-2", "a"])
def test_runtime_names_that_can_be_label_values_are_accepted(name: str) -> None:
    assert check_runtime_name(name, "my_functions") == name


@pytest.mark.parametrize("name", ["My_Runtime", "my/image:1", "2nd", "", "x" * 41])
def test_other_runtime_names_are_refused_with_the_rule(name: str) -> None:
    with pytest.raises(ConfigError, match="lowercase letters, digits"):
        check_runtime_name(name, "my_functions")


def test_the_requirements_file_is_read_or_its_absence_says_how_to_name_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="-f/--file"):
        read_requirements(None)
    (tmp_path / "requirements.txt").write_text("numpy==2.0\n")
    assert read_requirements(None) == "numpy==2.0\n"
    other = tmp_path / "other.txt"
    other.write_text("pandas\n")
    assert read_requirements(str(other)) == "pandas\n"
