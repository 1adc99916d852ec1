"""The testbed's moto: a zip function's code really runs in a container, as on Lambda."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import boto3
import pytest
from testbed import MotoServer

HANDLERS = """
import os, time

def echo(event, context):
    return {"event": event, "memory": context.memory_limit_in_mb,
            "remaining_ms": context.get_remaining_time_in_millis(),
            "endpoint": os.environ.get("AWS_ENDPOINT_URL")}

def fail(event, context):
    raise KeyError("no such thing")

def die(event, context):
    os._exit(3)

def sleep(event, context):
    time.sleep(60)
"""


@pytest.fixture(scope="module")
def functions(moto_server: MotoServer) -> Any:
    kwargs: dict[str, Any] = {
        "endpoint_url": moto_server.endpoint,
        "region_name": "us-east-1",
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
    }
    iam = boto3.client("iam", **kwargs)
    role = iam.create_role(RoleName="testbed-lambda-role", AssumeRolePolicyDocument="{}")
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("handlers.py", HANDLERS)
    client = boto3.client("lambda", **kwargs)
    for name in ("echo", "fail", "die", "sleep"):
        client.create_function(
            FunctionName=f"testbed-{name}",
            Runtime="python3.11",
            Role=role["Role"]["Arn"],
            Handler=f"handlers.{name}",
            Code={"ZipFile": code.getvalue()},
            MemorySize=192,
            Timeout=2,
        )
    return client


def _invoke(client: Any, name: str, event: Any) -> tuple[str | None, Any]:
    response = client.invoke(FunctionName=f"testbed-{name}", Payload=json.dumps(event))
    return response.get("FunctionError"), json.loads(response["Payload"].read())


def test_function_code_runs_with_its_event_and_context(functions: Any, moto_server: Any) -> None:
    error, result = _invoke(functions, "echo", {"x": [1, 2]})
    assert error is None
    assert result["event"] == {"x": [1, 2]}
    assert result["memory"] == "192"
    assert 0 < result["remaining_ms"] <= 2000
    assert result["endpoint"] == f"http://host.docker.internal:{moto_server.port}"


def test_handler_exception_is_a_function_error_with_its_type(functions: Any) -> None:
    error, result = _invoke(functions, "fail", {})
    assert error and result["errorType"] == "KeyError"


def test_runtime_exit_and_timeout_are_reported_as_lambda_does(functions: Any) -> None:
    error, result = _invoke(functions, "die", {})
    assert error and result["errorType"] == "Runtime.ExitError"
    assert "exit status 3" in result["errorMessage"]
    error, result = _invoke(functions, "sleep", {})
    assert error and "Task timed out after 2.00 seconds" in result["errorMessage"]
