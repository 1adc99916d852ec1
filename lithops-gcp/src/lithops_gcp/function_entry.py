"""The entry point of a deployed function (worker side): one HTTP request, one batch.

functions-framework (what Cloud Functions runs Python functions in) hands
:func:`lithops_handler` a Flask request; its body is the JSON event of
:mod:`lithops.worker.serverless`, and the JSON response goes back as the HTTP response.
A failure outside the calls (a wire version the function cannot speak, an unreadable event)
is a 500 whose JSON body names the error, so the client can raise the same class.
"""

from __future__ import annotations

import json
from typing import Any

from lithops.worker.serverless import handler

__all__ = ["ENTRY_POINT", "MAIN_MODULE", "lithops_handler"]

#: the function's ``entryPoint``, and the ``main.py`` Cloud Functions loads it from
ENTRY_POINT = "lithops_handler"
MAIN_MODULE = b"from lithops_gcp.function_entry import lithops_handler  # noqa: F401\n"

_JSON = {"Content-Type": "application/json"}


def lithops_handler(request: Any) -> tuple[str, int, dict[str, str]]:
    try:
        event = json.loads(request.get_data())
        return json.dumps(handler(event)), 200, _JSON
    except Exception as exc:
        error = {"errorType": type(exc).__name__, "errorMessage": str(exc)}
        return json.dumps(error), 500, _JSON
