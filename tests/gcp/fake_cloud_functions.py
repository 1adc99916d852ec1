"""A FAKE of the Cloud Functions v2 admin API, for tests only: no emulator of it exists.

It speaks the REST shapes ``google-cloud-functions``' REST transport uses (camelCase JSON,
enums as integers, long-running operations), on plain HTTP on 127.0.0.1:

* ``POST /v2/{parent}/functions:generateUploadUrl`` -> ``uploadUrl`` + ``storageSource``;
  ``PUT`` of the zip to that URL keeps it;
* ``POST /v2/{parent}/functions?functionId=`` -> an Operation that is done once the function
  serves; ``GET /v2/{name}/operations/ID`` polls it;
* ``GET /v2/{name}``, ``GET /v2/{parent}/functions`` (``pageSize``/``pageToken``),
  ``DELETE /v2/{name}`` (-> a done Operation);
* ``PATCH /v2/{name}?updateMask=`` -> an Operation: the fields named are replaced, and the
  function's instance restarts on the (new) source and timeout behind the same URL;
* ``POST /token``: a token endpoint issuing ID tokens for a service account's JWT assertion
  (what google-auth's ``IDTokenCredentials`` sends).

What is real: a deploy unpacks the uploaded zip into a directory, pip-installs the source's
``requirements.txt`` as Cloud Build does (``pip install --no-index --prefix <dir>/.packages``:
what this Python already has is satisfied, anything else must be a local file, since tests
never reach PyPI; a failing install fails the deploy with pip's output), and starts
``functions-framework --target <entryPoint> --source <dir>/main.py`` on it with those
packages on the path, so the function that answers is our code. Each function gets a front end
(a small proxy, as Cloud Run has one) whose URL is the function's ``serviceConfig.uri``; it
checks the ID token's audience when the fake was told to, can answer 429 to every other request
(``throttle_every_other``), and records request bodies and the most requests in flight.
Everything is stopped by :meth:`stop` (by PID).
"""

from __future__ import annotations

import base64
import http.client
import io
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
import zipfile
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

__all__ = ["FakeCloudFunctions", "FunctionFrontEnd"]

_ACTIVE = 1
_GEN_2 = 2
_FUNCTION_TYPE = "type.googleapis.com/google.cloud.functions.v2.Function"
_METADATA_TYPE = "type.googleapis.com/google.cloud.functions.v2.OperationMetadata"
_EMPTY_TYPE = "type.googleapis.com/google.protobuf.Empty"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word.title() for word in rest)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _jwt_claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else ~40 ms of delayed ACK on every small response

    def log_message(self, format: str, *args: object) -> None:
        pass

    def body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def reply(self, status: int, data: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def reply_json(self, status: int, value: Any) -> None:
        self.reply(status, json.dumps(value).encode())

    def error(self, status: int, grpc_status: str, message: str) -> None:
        self.reply_json(
            status, {"error": {"code": status, "message": message, "status": grpc_status}}
        )


@dataclass
class FunctionFrontEnd:
    """The front end of one deployed function: a proxy to its functions-framework."""

    fake: FakeCloudFunctions
    upstream_port: int
    process: subprocess.Popen[bytes]
    source_dir: Path
    server: ThreadingHTTPServer = field(init=False)
    uri: str = field(init=False)
    in_flight: int = 0
    most_in_flight: int = 0
    requests: int = 0
    throttled: int = 0
    bodies: list[bytes] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: the function's ``serviceConfig.timeoutSeconds``
    timeout_s: float = 3600.0
    #: starts a new instance: ``() -> (process, port)``
    restart: Any = None
    restarts: int = 0

    def __post_init__(self) -> None:
        front = self

        class Handler(_Handler):
            def do_POST(self) -> None:
                data = self.body()
                fake = front.fake
                if fake.require_id_token:
                    claims = fake.issued.get(
                        self.headers.get("Authorization", "").removeprefix("Bearer ")
                    )
                    if claims is None or claims.get("aud") != front.uri:
                        self.reply(401, b"Unauthorized: no valid ID token for this function")
                        return
                with front.lock:
                    front.requests += 1
                    front.bodies.append(data)
                    if fake.throttle_every_other and front.requests % 2 == 0:
                        front.throttled += 1
                        throttle = True
                    else:
                        throttle = False
                        front.in_flight += 1
                        front.most_in_flight = max(front.most_in_flight, front.in_flight)
                if throttle:
                    self.reply(429, b"Rate exceeded.", "text/plain")
                    return
                try:
                    status, reply, ctype = front.forward(self.path, data, self.headers)
                finally:
                    with front.lock:
                        front.in_flight -= 1
                self.reply(status, reply, ctype)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.uri = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def forward(self, path: str, data: bytes, headers: Any) -> tuple[int, bytes, str]:
        connection = http.client.HTTPConnection(
            "127.0.0.1", self.upstream_port, timeout=self.timeout_s
        )
        try:
            connection.request(
                "POST",
                path,
                body=data,
                headers={"Content-Type": headers.get("Content-Type") or "application/json"},
            )
            response = connection.getresponse()
            return response.status, response.read(), response.getheader("Content-Type") or ""
        except TimeoutError:
            # Past the function's timeoutSeconds: what the platform answers (the instance
            # may run on; its answer is dropped).
            return 504, b"upstream request timeout", "text/plain"
        except OSError as exc:
            # The instance died under the request: Cloud Functions answers 500 and starts a
            # new instance for the next one.
            self.revive()
            return 500, f"Error: could not handle the request ({exc})".encode(), "text/plain"
        finally:
            connection.close()

    def revive(self) -> None:
        with self.lock:
            try:
                # gunicorn's arbiter stops when its worker exits with code 3 ("failed to
                # boot"); give it the time to, then start a new instance in its place.
                self.process.wait(timeout=3)
            except subprocess.TimeoutExpired:
                return  # the instance lives on (its arbiter replaced the worker)
            if self.restart is None:
                return
            self.restarts += 1
            _stop_instance(self.process)
            self.process, self.upstream_port = self.restart()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        _stop_instance(self.process)
        shutil.rmtree(self.source_dir, ignore_errors=True)


def _stop_instance(process: subprocess.Popen[bytes]) -> None:
    """Stop a functions-framework we started, and its gunicorn workers (its process group:
    a worker busy in a call's thread outlives its arbiter otherwise)."""
    if process.poll() is None:
        # gunicorn's quick shutdown: a request still running does not hold it up.
        process.send_signal(signal.SIGQUIT)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class FakeCloudFunctions:
    """The fake admin API (and token endpoint); ``endpoint`` is the client's ``api_endpoint``."""

    def __init__(self, work_dir: Path) -> None:
        self.work_dir = work_dir
        self.functions: dict[str, dict[str, Any]] = {}
        self.front_ends: dict[str, FunctionFrontEnd] = {}
        self.operations: dict[str, dict[str, Any]] = {}
        self.uploads: dict[str, bytes] = {}
        self.issued: dict[str, dict[str, Any]] = {}
        self.calls: list[tuple[str, str]] = []
        self.require_id_token = False
        self.throttle_every_other = False
        self.lock = threading.Lock()
        self._ids = itertools.count(1)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.token_uri = f"{self.endpoint}/token"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    # -- lifecycle --------------------------------------------------------------------------

    def stop(self) -> None:
        for front in list(self.front_ends.values()):
            front.stop()
        self.front_ends.clear()
        self.server.shutdown()
        self.server.server_close()

    def front_end(self, function_id: str) -> FunctionFrontEnd:
        (name,) = [n for n in self.front_ends if n.endswith("/functions/" + function_id)]
        return self.front_ends[name]

    def reset_counters(self) -> None:
        for front in self.front_ends.values():
            with front.lock:
                front.requests = front.throttled = front.most_in_flight = 0
                front.bodies.clear()

    # -- the deploy: unzip, start functions-framework, wait until it serves -------------------

    def _deploy(self, name: str, function: dict[str, Any], operation: dict[str, Any]) -> None:
        try:
            front = self._start(name, function)
        except Exception as exc:
            with self.lock:
                function["state"] = 2  # FAILED
                operation["done"] = True
                operation["error"] = {"code": 3, "message": f"deploy failed: {exc}"}
            return
        with self.lock:
            self.front_ends[name] = front
            function["state"] = _ACTIVE
            function["serviceConfig"]["uri"] = front.uri
            function["url"] = front.uri
            function["updateTime"] = _now()
            operation["done"] = True
            operation["response"] = {"@type": _FUNCTION_TYPE, **function}

    def _start(self, name: str, function: dict[str, Any]) -> FunctionFrontEnd:
        directory, launch = self._unpack(name, function)
        process, port = launch()
        timeout = float((function.get("serviceConfig") or {}).get("timeoutSeconds") or 3600)
        return FunctionFrontEnd(self, port, process, directory, timeout_s=timeout, restart=launch)

    def _unpack(self, name: str, function: dict[str, Any]) -> tuple[Path, Any]:
        build = function.get("buildConfig") or {}
        source = (build.get("source") or {}).get("storageSource") or {}
        archive = self.uploads[source["object"]]
        directory = self.work_dir / f"{name.rsplit('/', 1)[-1]}-{uuid.uuid4().hex[:6]}"
        with zipfile.ZipFile(io.BytesIO(archive)) as zipped:
            zipped.extractall(directory)
        _install_requirements(directory)

        def launch() -> tuple[subprocess.Popen[bytes], int]:
            return self._launch(name, function, directory)

        return directory, launch

    def _redeploy(self, name: str, function: dict[str, Any], operation: dict[str, Any]) -> None:
        """A new revision behind the same front end: new instance, new timeout."""
        front = self.front_ends[name]
        try:
            directory, launch = self._unpack(name, function)
            process, port = launch()
        except Exception as exc:
            with self.lock:
                function["state"] = 2  # FAILED
                operation["done"] = True
                operation["error"] = {"code": 3, "message": f"update failed: {exc}"}
            return
        with front.lock:
            old_process, old_dir = front.process, front.source_dir
            front.process, front.upstream_port, front.source_dir = process, port, directory
            front.restart = launch
            front.timeout_s = float(function["serviceConfig"].get("timeoutSeconds") or 3600)
        _stop_instance(old_process)
        shutil.rmtree(old_dir, ignore_errors=True)
        with self.lock:
            function["state"] = _ACTIVE
            function["updateTime"] = _now()
            operation["done"] = True
            operation["response"] = {"@type": _FUNCTION_TYPE, **function}

    def _launch(
        self, name: str, function: dict[str, Any], directory: Path
    ) -> tuple[subprocess.Popen[bytes], int]:
        build = function.get("buildConfig") or {}
        service = function.get("serviceConfig") or {}
        port = _free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LITHOPS_", "STORAGE_EMU"))}
        env.update(
            {
                # Cloud Functions puts the function's directory first on the path, then what
                # the build installed.
                "PYTHONPATH": os.pathsep.join([str(directory), str(_site_packages(directory))]),
                "NO_GCE_CHECK": "true",
                "K_SERVICE": name.rsplit("/", 1)[-1],
                "FUNCTION_TARGET": str(build.get("entryPoint")),
                "HOME": str(directory),
                **{str(k): str(v) for k, v in (service.get("environmentVariables") or {}).items()},
            }
        )
        log_path = directory / "functions-framework.log"
        framework = Path(sys.executable).parent / "functions-framework"
        with open(log_path, "ab") as log:
            process = subprocess.Popen(
                [
                    str(framework),
                    *("--target", str(build.get("entryPoint"))),
                    *("--source", str(directory / "main.py")),
                    *("--host", "127.0.0.1", "--port", str(port)),
                ],
                cwd=directory,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, so stop() reaches the workers
            )
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(
                    f"functions-framework exited with {process.returncode}: "
                    f"{log_path.read_text()[-3000:]}"
                )
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                connection.request("GET", "/")
                connection.getresponse().read()
                connection.close()
                return process, port
            except OSError:
                if time.monotonic() > deadline:
                    process.kill()
                    process.wait()
                    raise RuntimeError("functions-framework did not listen within 60 s") from None
                time.sleep(0.05)

    # -- the REST API ---------------------------------------------------------------------

    def _operation(self, parent: str, target: str, verb: str) -> dict[str, Any]:
        op_id = f"operation-{next(self._ids)}"
        operation = {
            "name": f"{parent}/operations/{op_id}",
            "metadata": {
                "@type": _METADATA_TYPE,
                "createTime": _now(),
                "target": target,
                "verb": verb,
                "apiVersion": "v2",
            },
            "done": False,
        }
        self.operations[operation["name"]] = operation
        return operation

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(_Handler):
            def route(self) -> tuple[str, dict[str, list[str]]]:
                parsed = urllib.parse.urlsplit(self.path)
                with fake.lock:
                    fake.calls.append((self.command, parsed.path))
                return urllib.parse.unquote(parsed.path), urllib.parse.parse_qs(parsed.query)

            def do_PUT(self) -> None:
                path, _ = self.route()
                if not path.startswith("/upload/"):
                    self.error(404, "NOT_FOUND", f"no upload URL {path}")
                    return
                fake.uploads[path.removeprefix("/upload/")] = self.body()
                self.reply(200, b"", "text/plain")

            def do_POST(self) -> None:
                path, query = self.route()
                data = self.body()
                if path == "/token":
                    self.token(data)
                elif path.endswith("/functions:generateUploadUrl"):
                    obj = f"{uuid.uuid4().hex}.zip"
                    self.reply_json(
                        200,
                        {
                            "uploadUrl": f"{fake.endpoint}/upload/{obj}",
                            "storageSource": {"bucket": "gcf-v2-uploads-fake", "object": obj},
                        },
                    )
                elif path.startswith("/v2/") and path.endswith("/functions"):
                    self.create(path[len("/v2/") : -len("/functions")], query, data)
                else:
                    self.error(404, "NOT_FOUND", f"no such method: POST {path}")

            def token(self, data: bytes) -> None:
                form = urllib.parse.parse_qs(data.decode())
                claims = _jwt_claims(form["assertion"][0])
                audience = claims.get("target_audience")
                if not audience:  # an access token grant (for the admin API)
                    token = f"fake-access-{uuid.uuid4().hex}"
                    self.reply_json(
                        200, {"access_token": token, "expires_in": 3600, "token_type": "Bearer"}
                    )
                    return
                now = int(time.time())
                id_claims = {"aud": audience, "iss": "fake", "sub": claims.get("iss"),
                             "iat": now, "exp": now + 3600}  # fmt: skip
                header = _b64url(json.dumps({"alg": "RS256", "typ": "JWT"}).encode())
                token = f"{header}.{_b64url(json.dumps(id_claims).encode())}.{_b64url(b'sig')}"
                with fake.lock:
                    fake.issued[token] = id_claims
                self.reply_json(200, {"id_token": token})

            def create(self, parent: str, query: dict[str, list[str]], data: bytes) -> None:
                function_id = (query.get("functionId") or [""])[0]
                function = json.loads(data or b"{}")
                name = f"{parent}/functions/{function_id}"
                bad = _bad_label(function.get("labels") or {})
                if bad:
                    self.error(400, "INVALID_ARGUMENT", bad)
                    return
                with fake.lock:
                    if name in fake.functions:
                        self.error(409, "ALREADY_EXISTS", f"Function {name} already exists")
                        return
                    source = (function.get("buildConfig") or {}).get("source") or {}
                    obj = (source.get("storageSource") or {}).get("object")
                    if obj not in fake.uploads:
                        self.error(400, "INVALID_ARGUMENT", f"no uploaded source {obj!r}")
                        return
                    function["name"] = name
                    function["state"] = 3  # DEPLOYING
                    function["environment"] = _GEN_2
                    function.setdefault("serviceConfig", {})
                    function["updateTime"] = _now()
                    fake.functions[name] = function
                    operation = fake._operation(parent, name, "create")
                threading.Thread(
                    target=fake._deploy, args=(name, function, operation), daemon=True
                ).start()
                self.reply_json(200, operation)

            def do_GET(self) -> None:
                path, query = self.route()
                if not path.startswith("/v2/"):
                    self.error(404, "NOT_FOUND", f"no such method: GET {path}")
                    return
                name = path[len("/v2/") :]
                with fake.lock:
                    if "/operations/" in name:
                        found = fake.operations.get(name)
                    elif name.endswith("/functions"):
                        self.list_functions(name[: -len("/functions")], query)
                        return
                    else:
                        found = fake.functions.get(name)
                    reply = json.dumps(found).encode() if found is not None else None
                if reply is None:
                    self.error(404, "NOT_FOUND", f"Resource '{name}' was not found")
                else:
                    self.reply(200, reply)

            def list_functions(self, parent: str, query: dict[str, list[str]]) -> None:
                size = int((query.get("pageSize") or ["50"])[0])
                start = int((query.get("pageToken") or ["0"])[0] or 0)
                names = sorted(n for n in fake.functions if n.startswith(parent + "/functions/"))
                page = [fake.functions[n] for n in names[start : start + size]]
                reply: dict[str, Any] = {"functions": page}
                if start + size < len(names):
                    reply["nextPageToken"] = str(start + size)
                self.reply_json(200, reply)

            def do_PATCH(self) -> None:
                path, query = self.route()
                name = path[len("/v2/") :]
                update = json.loads(self.body() or b"{}")
                mask = ",".join(query.get("updateMask") or [])
                bad = _bad_label(update.get("labels") or {})
                if bad:
                    self.error(400, "INVALID_ARGUMENT", bad)
                    return
                with fake.lock:
                    function = fake.functions.get(name)
                    if function is None:
                        self.error(404, "NOT_FOUND", f"Resource '{name}' was not found")
                        return
                    for field_path in filter(None, mask.split(",")):
                        parts = [_camel(p) for p in field_path.split(".")]
                        source: Any = update
                        target = function
                        for part in parts[:-1]:
                            source = (source or {}).get(part) or {}
                            target = target.setdefault(part, {})
                        if parts[-1] in (source or {}):
                            target[parts[-1]] = source[parts[-1]]
                        else:
                            target.pop(parts[-1], None)
                    function["state"] = 3  # DEPLOYING
                    parent = name.rsplit("/functions/", 1)[0]
                    operation = fake._operation(parent, name, "update")
                threading.Thread(
                    target=fake._redeploy, args=(name, function, operation), daemon=True
                ).start()
                self.reply_json(200, operation)

            def do_DELETE(self) -> None:
                path, _ = self.route()
                name = path[len("/v2/") :]
                with fake.lock:
                    function = fake.functions.pop(name, None)
                    front = fake.front_ends.pop(name, None)
                    if function is not None:
                        parent = name.rsplit("/functions/", 1)[0]
                        operation = fake._operation(parent, name, "delete")
                        operation["done"] = True
                        operation["response"] = {"@type": _EMPTY_TYPE}
                if function is None:
                    self.error(404, "NOT_FOUND", f"Resource '{name}' was not found")
                    return
                if front is not None:
                    front.stop()
                self.reply_json(200, operation)

        return Handler


def _site_packages(directory: Path) -> Path:
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    return directory / ".packages" / "lib" / version / "site-packages"


def _install_requirements(directory: Path) -> None:
    """What Cloud Build does with a Python function's ``requirements.txt``, offline."""
    requirements = directory / "requirements.txt"
    if not requirements.is_file():
        return
    done = subprocess.run(
        [
            *(sys.executable, "-m", "pip", "install", "--no-index", "--no-input"),
            *("--disable-pip-version-check", "--no-warn-script-location", "--quiet"),
            *("--prefix", str(directory / ".packages"), "-r", str(requirements)),
        ],
        cwd=directory,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
        env={k: v for k, v in os.environ.items() if not k.startswith("PIP_")},
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"pip install -r requirements.txt failed: {(done.stdout + done.stderr)[-3000:]}"
        )


_LABEL_KEY = re.compile(r"[a-z][a-z0-9_-]{0,62}")
_LABEL_VALUE = re.compile(r"[a-z0-9_-]{0,63}")


def _bad_label(labels: dict[str, str]) -> str | None:
    """What the real API says of labels it refuses (lowercase letters, digits, '_' and '-')."""
    for key, value in labels.items():
        if not _LABEL_KEY.fullmatch(key) or not _LABEL_VALUE.fullmatch(str(value)):
            return (
                f"Invalid label {key}={value!r}: keys and values may hold only lowercase "
                "letters, digits, '_' and '-'"
            )
    return None
