"""The wire format: frames, multipart frames with out-of-band buffers, version checks."""

from __future__ import annotations

import io
import pickle

import pytest

from lithops import wire
from lithops.errors import WireVersionError


def test_large_values_travel_out_of_band_and_arrive_intact() -> None:
    big = bytes(range(256)) * 4096  # 1 MiB
    stream = io.BytesIO()
    wire.write_message(stream, {"t": "results", "records": [{"value": pickle.PickleBuffer(big)}]})
    wire.write_message(stream, {"t": "log", "lines": [(1.0, "small")]})
    # the big value is not inside the message's pickle: the frame is the value plus a little
    assert len(stream.getvalue()) < len(big) + 1024
    stream.seek(0)
    first = wire.read_message(stream)
    assert first is not None and bytes(first["records"][0]["value"]) == big
    assert wire.read_message(stream) == {"t": "log", "lines": [(1.0, "small")]}
    assert wire.read_message(stream) is None


def test_a_stream_cut_inside_a_frame_is_an_error_not_a_clean_end() -> None:
    stream = io.BytesIO()
    wire.write_message(stream, {"t": "results", "records": [], "pad": "x" * 100})
    cut = io.BytesIO(stream.getvalue()[:-10])
    with pytest.raises(EOFError):
        wire.read_message(cut)


def test_a_worker_of_another_major_version_is_refused_with_what_to_do() -> None:
    hello = {**wire.hello_message(), "wire": (wire.WIRE_VERSION[0] + 1, 0), "lithops": "9.0"}
    with pytest.raises(WireVersionError, match="same lithops major version"):
        wire.check_hello(hello, "somewhere")


def test_a_newer_minor_version_interoperates() -> None:
    wire.check_hello({**wire.hello_message(), "wire": (wire.WIRE_VERSION[0], 99)}, "somewhere")


def test_a_worker_with_another_python_minor_is_refused() -> None:
    with pytest.raises(WireVersionError, match=r"Python 3\.1,"):
        wire.check_hello({**wire.hello_message(), "python": "3.1"}, "somewhere")
