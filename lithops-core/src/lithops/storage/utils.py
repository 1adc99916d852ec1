"""Names Lithops programs import from ``lithops.storage.utils``: object references and errors."""

from __future__ import annotations

import os

from lithops.errors import LithopsError

__all__ = [
    "CloudObject",
    "CloudObjectLocal",
    "CloudObjectUrl",
    "StorageError",
    "StorageNoSuchKeyError",
]


class StorageError(LithopsError):
    """A storage operation failed for a reason other than a missing key."""


class StorageNoSuchKeyError(StorageError, KeyError):
    """The object (or bucket) asked for does not exist.

    Also a :class:`KeyError`, so ``except KeyError`` written against dict-like code still works.
    """

    def __init__(
        self, bucket: str, key: str = "", where: str = "", missing_bucket: bool = False
    ) -> None:
        self.bucket = bucket
        self.key = key
        if missing_bucket or not key:
            msg = f"no bucket {bucket!r}" + (f" (asked for key {key!r})" if key else "")
        else:
            msg = f"no object {key!r} in bucket {bucket!r}"
        if where:
            msg += f" ({where})"
        super().__init__(msg + "; check the bucket and key, or list them with Storage.list_keys")

    def __str__(self) -> str:
        # KeyError would quote the message; keep it readable.
        return str(self.args[0])

    def __reduce__(self):  # the worker sends it back to the client pickled
        return (_rebuild_no_such_key, (self.bucket, self.key, str(self.args[0])))


def _rebuild_no_such_key(bucket: str, key: str, message: str) -> StorageNoSuchKeyError:
    err = StorageNoSuchKeyError(bucket, key)
    err.args = (message,)
    return err


class CloudObject:
    """A reference to an object in a storage backend, as returned by ``Storage.put_cloudobject``."""

    def __init__(self, backend: str, bucket: str, key: str) -> None:
        self.backend = backend
        self.bucket = bucket
        self.key = key

    def __str__(self) -> str:
        return f"<CloudObject at {self.backend}://{self.bucket}/{self.key}>"

    __repr__ = __str__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CloudObject) and (
            (self.backend, self.bucket, self.key) == (other.backend, other.bucket, other.key)
        )

    def __hash__(self) -> int:
        return hash((self.backend, self.bucket, self.key))


class CloudObjectUrl:
    """A reference to an object named by an http(s) URL."""

    def __init__(self, url: str) -> None:
        self.url = url

    def __str__(self) -> str:
        return f"<CloudObject at {self.url}>"

    __repr__ = __str__


class CloudObjectLocal:
    """A reference to a file on the local filesystem."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.bucket = os.path.dirname(path)
        self.key = os.path.basename(path)

    def __str__(self) -> str:
        return f"<CloudObject at {self.path}>"

    __repr__ = __str__
