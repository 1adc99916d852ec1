"""A loopback HTTP proxy in front of moto's Lambda API that enforces a reserved concurrency.

moto runs every invocation it gets; real Lambda answers ``429 TooManyRequestsException`` when
a function's reserved concurrency is used up. The proxy does that: an invoke arriving while
``concurrency`` invokes of the function are in flight gets Lambda's throttling response, and
every other request passes through to moto unchanged. It records each invoke's body and the
access key that signed it, so tests can check what travelled and whose identity called.
"""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

__all__ = ["ConcurrencyProxy", "concurrency_proxy"]

_THROTTLED = json.dumps(
    {
        "Reason": "ReservedFunctionConcurrentInvocationLimitExceeded",
        "Type": "User",
        "message": "Rate Exceeded.",
    }
).encode()


class ConcurrencyProxy:
    def __init__(self, upstream: str, concurrency: int) -> None:
        self.upstream = urlsplit(upstream)
        self.concurrency = concurrency
        self.in_flight = 0
        self.most_in_flight = 0
        self.throttled = 0
        self.invoked = 0
        self.bodies: list[bytes] = []
        #: the access key id of each invoke's signature (``Credential=AKID/...``)
        self.signers: list[str] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                invoke = self.command == "POST" and self.path.rstrip("/").endswith("invocations")
                if invoke:
                    auth = self.headers.get("Authorization") or ""
                    signer = auth.split("Credential=", 1)[-1].split("/", 1)[0] if auth else ""
                    with proxy.lock:
                        proxy.bodies.append(body)
                        proxy.signers.append(signer)
                        if proxy.in_flight >= proxy.concurrency:
                            proxy.throttled += 1
                            self._reply(
                                429, _THROTTLED, {"x-amzn-ErrorType": "TooManyRequestsException"}
                            )
                            return
                        proxy.in_flight += 1
                        proxy.invoked += 1
                        proxy.most_in_flight = max(proxy.most_in_flight, proxy.in_flight)
                try:
                    upstream = http.client.HTTPConnection(
                        proxy.upstream.hostname, proxy.upstream.port, timeout=600
                    )
                    headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                    headers["Host"] = proxy.upstream.netloc
                    upstream.request(self.command, self.path, body=body, headers=headers)
                    response = upstream.getresponse()
                    data = response.read()
                    passed = {
                        k: v
                        for k, v in response.getheaders()
                        if k.lower() not in ("content-length", "transfer-encoding", "connection")
                    }
                    upstream.close()
                finally:
                    if invoke:
                        with proxy.lock:
                            proxy.in_flight -= 1
                self._reply(response.status, data, passed)

            def _reply(self, status: int, data: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                if "content-type" not in {k.lower() for k in headers}:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _forward

        return Handler


@contextmanager
def concurrency_proxy(upstream: str, concurrency: int) -> Iterator[ConcurrencyProxy]:
    proxy = ConcurrencyProxy(upstream, concurrency)
    thread = threading.Thread(target=proxy.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        proxy.server.shutdown()
        proxy.server.server_close()
        thread.join(timeout=10)
