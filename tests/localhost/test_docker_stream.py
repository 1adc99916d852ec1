"""The demultiplexing file objects over a Docker exec socket, fed through a real socket pair."""

from __future__ import annotations

import socket
import threading
from typing import IO

import pytest

from lithops_localhost.docker_stream import ExecStream


def _read_all(stream: IO[bytes], deadline_s: float = 10.0) -> bytes:
    result: list[bytes] = []
    done = threading.Event()

    def pump() -> None:
        result.append(stream.read())
        done.set()

    threading.Thread(target=pump, daemon=True).start()
    assert done.wait(deadline_s), "the stream did not end"
    return result[0]


def _frame(kind: int, payload: bytes) -> bytes:
    return bytes([kind, 0, 0, 0]) + len(payload).to_bytes(4, "big") + payload


def _feed(data: bytes, step: int) -> tuple[ExecStream, socket.socket, list[str]]:
    ours, engine = socket.socketpair()
    first: list[str] = []
    stream = ExecStream(ours, "test", first.append)

    def send() -> None:
        for i in range(0, len(data), step):  # odd-sized writes split headers and payloads
            engine.sendall(data[i : i + step])
        engine.shutdown(socket.SHUT_WR)

    threading.Thread(target=send, daemon=True).start()
    return stream, engine, first


@pytest.mark.parametrize("step", [1, 3, 7, 8, 4096])
def test_exec_stream_splits_stdout_from_stderr_whatever_the_chunking(step: int) -> None:
    data = (
        _frame(2, b"42\nfirst err")
        + _frame(1, b"hello ")
        + _frame(2, b"or line\nsecond\n")
        + _frame(1, b"world")
        + _frame(2, b"tail without newline")
    )
    stream, engine, first = _feed(data, step)
    assert _read_all(stream.stdout) == b"hello world"
    assert first == ["42"]
    assert stream.stderr_tail() == ["first error line", "second", "tail without newline"]
    engine.close()


def test_exec_stream_keeps_an_unframed_engine_error_as_stderr() -> None:
    error = b'OCI runtime exec failed: exec: "python3": executable file not found\r\n'
    stream, engine, first = _feed(error, 4096)
    assert _read_all(stream.stdout) == b""
    assert first == [error.decode().strip("\n")]
    engine.close()


def test_exec_stream_stdin_close_is_a_half_close() -> None:
    ours, engine = socket.socketpair()
    stream = ExecStream(ours, "test")
    stream.stdin.write(b"frames")
    stream.stdin.close()
    received = b""
    while chunk := engine.recv(100):
        received += chunk
    assert received == b"frames"  # and then EOF: the exec's stdin ended
    engine.sendall(_frame(1, b"still flowing"))
    engine.close()
    assert _read_all(stream.stdout) == b"still flowing"
