"""Round trips of ``lithops.storage.cloud_proxy`` any storage backend must pass (shared by the
localhost tests here and the S3-on-moto tests in tests/aws)."""

from __future__ import annotations

import io

import pytest

from lithops.storage.cloud_proxy import CloudFileProxy


def check_text_and_binary_round_trips(proxy: CloudFileProxy) -> None:
    with proxy.open("/notes/hello.txt", "w") as f:
        f.write("héllo\n")
        f.write("second line\n")
    with proxy.open("notes/hello.txt") as f:
        assert f.readline() == "héllo\n"
        assert list(f) == ["second line\n"]
    payload = bytes(range(256)) * 1000
    with proxy.open("data/blob.bin", "wb") as f:
        f.write(payload[:1000])
        f.write(payload[1000:])
    with proxy.open("data/blob.bin", "rb") as f:
        assert f.read(10) == payload[:10]  # streaming: pieces, in order
        assert f.read() == payload[10:]
    assert proxy.path.getsize("data/blob.bin") == len(payload)
    assert proxy.path.getsize("notes/hello.txt") == len("héllo\nsecond line\n".encode())
    with proxy.open("notes/hello.txt", "a") as f:
        f.write("third\n")
    with proxy.open("notes/hello.txt") as f:
        assert f.read().splitlines() == ["héllo", "second line", "third"]
    with pytest.raises(FileExistsError):
        proxy.open("notes/hello.txt", "x")
    with pytest.raises(FileNotFoundError):
        proxy.open("notes/missing.txt")
    with pytest.raises(ValueError, match="invalid mode"):
        proxy.open("notes/hello.txt", "r+")


def check_os_functions(proxy: CloudFileProxy) -> None:
    for name in ("top.txt", "a/one.txt", "a/two.txt", "a/b/three.txt", "c/four.txt"):
        with proxy.open(name, "w") as f:
            f.write(name)
    assert proxy.listdir() == ["a", "c", "top.txt"]
    assert proxy.listdir("a") == ["b", "one.txt", "two.txt"]
    assert proxy.listdir("/a/b/") == ["three.txt"]
    with pytest.raises(FileNotFoundError):
        proxy.listdir("nowhere")
    with pytest.raises(NotADirectoryError):
        proxy.listdir("top.txt")
    assert list(proxy.walk("a")) == [
        ("a", ["b"], ["one.txt", "two.txt"]),
        ("a/b", [], ["three.txt"]),
    ]
    bottom_up = [d for d, _, _ in proxy.walk("", topdown=False)]
    assert bottom_up == ["a/b", "a", "c", ""]
    pruned = []
    for dirpath, dirnames, _ in proxy.walk(""):
        pruned.append(dirpath)
        dirnames[:] = [d for d in dirnames if d != "a"]
    assert pruned == ["", "c"]
    assert proxy.path.isdir("a") and proxy.path.isdir("a/b") and proxy.path.isdir("/")
    assert not proxy.path.isdir("top.txt") and not proxy.path.isdir("nowhere")
    assert proxy.path.isfile("a/one.txt") and not proxy.path.isfile("a")
    assert proxy.path.exists("a") and proxy.path.exists("a/one.txt")
    assert not proxy.path.exists("a/zero.txt")
    proxy.makedirs("a", exist_ok=True)
    with pytest.raises(FileExistsError):
        proxy.makedirs("a")
    with pytest.raises(FileExistsError):
        proxy.makedirs("top.txt", exist_ok=True)
    proxy.makedirs("fresh/dir")
    with pytest.raises(IsADirectoryError):
        proxy.remove("a")
    with pytest.raises(IsADirectoryError):
        proxy.open("a")
    with pytest.raises(IsADirectoryError):
        proxy.open("a", "w")
    proxy.remove("a/b/three.txt")
    assert not proxy.path.exists("a/b/three.txt") and not proxy.path.exists("a/b")
    assert proxy.listdir("a") == ["one.txt", "two.txt"]
    with pytest.raises(FileNotFoundError):
        proxy.remove("a/b/three.txt")
    with pytest.raises(FileNotFoundError):
        proxy.path.getsize("a/b/three.txt")


def check_large_streamed_write_and_read(proxy: CloudFileProxy) -> None:
    # Larger than the in-memory spool: goes through a temporary file before the upload.
    chunk = b"0123456789abcdef" * 65536  # 1 MiB
    with proxy.open("big/file.bin", "wb") as f:
        for _ in range(9):
            f.write(chunk)
    total = 0
    with proxy.open("big/file.bin", "rb") as f:
        assert isinstance(f, io.BufferedIOBase)
        while piece := f.read(1 << 20):
            assert piece == chunk
            total += len(piece)
    assert total == 9 * len(chunk) == proxy.path.getsize("big/file.bin")
