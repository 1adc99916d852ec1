"""Entrypoint of the testbed's Lambda image: what AWS's Python runtime does, in brief.

moto's server runs each invocation of a zip function in a fresh container of this image with
``[handler, event_json]`` as arguments and the function's settings in the environment, and
takes the last line of the output as the response. Like the real runtime, this entrypoint
imports ``module.function`` from ``/var/task`` (the function's code), calls it with the event
and a context object, and answers with its JSON result or a Lambda-shaped error:

* the handler raised: ``{"errorType": <class name>, "errorMessage": ..., "stackTrace": [...]}``
* it ran past the function's ``Timeout``: ``"... Task timed out after N.00 seconds"``
* its process died (exit, signal, the container's memory limit): ``Runtime.ExitError``

The handler runs in a child process so that the last two can be observed and reported.
Errors exit non-zero, which moto turns into a function error. boto3 and its dependencies are
in ``/var/runtime``, as on AWS.
"""

import importlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import uuid

RUNTIME_DIR = "/var/runtime"
TASK_DIR = "/var/task"


class Context:
    def __init__(self, request_id, deadline):
        self.aws_request_id = request_id
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        region = os.environ.get("AWS_REGION", "us-east-1")
        self.invoked_function_arn = (
            f"arn:aws:lambda:{region}:123456789012:function:{self.function_name}"
        )
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = request_id
        self._deadline = deadline

    def get_remaining_time_in_millis(self):
        return max(0, int((self._deadline - time.time()) * 1000))


def child(handler_name, out_path, request_id, deadline):
    sys.path[:0] = [TASK_DIR, RUNTIME_DIR]
    event = json.loads(sys.stdin.read())
    module_name, _, function_name = handler_name.rpartition(".")
    try:
        handler = getattr(importlib.import_module(module_name), function_name)
        result = handler(event, Context(request_id, float(deadline)))
        response, failed = json.dumps(result), False
    except Exception as exc:
        response = json.dumps(
            {
                "errorMessage": str(exc),
                "errorType": type(exc).__name__,
                "requestId": request_id,
                "stackTrace": traceback.format_tb(exc.__traceback__),
            }
        )
        failed = True
    with open(out_path, "w") as out:
        out.write(("E" if failed else "R") + response)


def _exit_status(code):
    if code < 0:
        name = {signal.SIGKILL: "killed", signal.SIGSEGV: "segmentation fault"}.get(-code)
        return f"signal: {name or signal.Signals(-code).name}"
    return f"exit status {code}"


def parent(handler_name, event):
    timeout = float(os.environ.get("AWS_LAMBDA_FUNCTION_TIMEOUT", "3"))
    request_id = str(uuid.uuid4())
    deadline = time.time() + timeout
    with tempfile.TemporaryDirectory() as tmp:
        out_path = os.path.join(tmp, "response")
        proc = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--child",
                handler_name,
                out_path,
                request_id,
                str(deadline),
            ],
            stdin=subprocess.PIPE,
        )
        try:
            proc.communicate(event.encode(), timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            message = f"{request_id} Task timed out after {timeout:.2f} seconds"
            return 1, {"errorMessage": message}
        code = proc.returncode
        if code != 0 or not os.path.exists(out_path):
            message = (
                f"RequestId: {request_id} Error: Runtime exited with error: {_exit_status(code)}"
            )
            return 1, {"errorType": "Runtime.ExitError", "errorMessage": message}
        with open(out_path) as out:
            data = out.read()
    return (1 if data[0] == "E" else 0), json.loads(data[1:])


def main(argv):
    if len(argv) > 1 and argv[1] == "--child":
        child(*argv[2:6])
        return 0
    code, response = parent(argv[1], argv[2])
    sys.stderr.flush()
    sys.stdout.write("\n" + json.dumps(response) + "\n")
    sys.stdout.flush()
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv))
