"""A call on aws_lambda opens its own executor: more Lambdas, invoked with the function's
identity (its environment / execution role), and no credential of the client in any payload."""

from __future__ import annotations

import json
from typing import Any

from lambda_proxy import concurrency_proxy
from testbed import MotoServer

import lithops

DEADLINE = 300
CLIENT_KEY = "AKIDCLIENTONLY000001"
CLIENT_SECRET = "client-secret-never-travels"


def double(x: int) -> int:
    return 2 * x


def fan_out(n: int) -> dict[str, Any]:
    """Runs in a Lambda: maps over more Lambdas from there, with no config of its own."""
    import os

    import lithops

    with lithops.FunctionExecutor() as fexec:
        results = fexec.map(double, range(n)).get_result(timeout=200)
        backend = fexec.backend
    return {
        "results": results,
        "backend": backend,
        "in_lambda": os.environ.get("AWS_LAMBDA_FUNCTION_NAME", ""),
    }


def test_a_call_maps_over_more_lambdas_with_the_functions_own_identity(
    lambda_config: dict[str, Any], aws_env: MotoServer
) -> None:
    config = json.loads(json.dumps(lambda_config))
    config["aws"]["access_key_id"] = CLIENT_KEY
    config["aws"]["secret_access_key"] = CLIENT_SECRET
    with concurrency_proxy(aws_env.endpoint, concurrency=50) as proxy:
        # Every invoke, the client's and the nested executor's, goes through the proxy.
        config["aws_lambda"]["endpoint"] = proxy.endpoint
        with lithops.FunctionExecutor(config=config) as fexec:
            outcome = fexec.call_async(fan_out, 3).result(timeout=DEADLINE)
    assert outcome["results"] == [0, 2, 4]
    assert outcome["backend"] == "aws_lambda"
    assert outcome["in_lambda"].startswith("lithops-w")
    # The client signed its own invokes; the function signed the nested ones with its own
    # credentials (those the platform gives it), never the client's.
    assert proxy.signers.count(CLIENT_KEY) >= 2  # the metadata check and the outer call
    nested = [s for s in proxy.signers if s != CLIENT_KEY]
    assert len(nested) >= 3, proxy.signers  # the nested metadata check and three calls
    assert all(s for s in nested)
    assert not any(CLIENT_KEY.encode() in b or CLIENT_SECRET.encode() in b for b in proxy.bodies)
