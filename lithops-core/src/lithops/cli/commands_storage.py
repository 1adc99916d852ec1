"""``lithops storage put|get|list|delete``: objects of the configured storage backend."""

from __future__ import annotations

import os
import sys
from datetime import datetime, timezone
from typing import Any

import click

from lithops.cli.state import CliState, common_options, pass_state
from lithops.cli.table import render_table

__all__ = ["storage"]


@click.group("storage")
def storage() -> None:
    """Put, get, list and delete objects.

    On these commands -b/--backend names the storage backend, as in Lithops.
    """


@storage.command("put")
@click.argument("filename", type=click.Path(exists=True, dir_okay=False))
@click.argument("bucket")
@click.option("-k", "--key", default=None, help="Object key (default: the file's name).")
@common_options(storage_cmd=True)
@pass_state
def put(state: CliState, filename: str, bucket: str, key: str | None) -> None:
    """Upload FILENAME to BUCKET."""
    key = key or os.path.basename(filename)
    state.make_storage().upload_file(filename, bucket, key)
    click.echo(f"Uploaded {filename} to {bucket}/{key} ({os.path.getsize(filename)} bytes)")


@storage.command("get")
@click.argument("bucket")
@click.argument("key")
@click.option("-o", "--out", default=None, help="Output file ('-' for stdout; default: KEY).")
@common_options(storage_cmd=True)
@pass_state
def get(state: CliState, bucket: str, key: str, out: str | None) -> None:
    """Download KEY from BUCKET."""
    store = state.make_storage()
    if out == "-":
        data = store.get_object(bucket, key)
        sys.stdout.buffer.write(data if isinstance(data, bytes) else data.read())
        sys.stdout.buffer.flush()
        return
    dest = out or key
    store.download_file(bucket, key, dest)
    click.echo(f"Downloaded {bucket}/{key} to {dest}")


def _when(value: Any) -> str:
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    return str(value) if value is not None else "-"


@storage.command("list")
@click.argument("bucket")
@click.option("-p", "--prefix", default=None, help="Only keys starting with this prefix.")
@common_options(storage_cmd=True)
@pass_state
def list_bucket(state: CliState, bucket: str, prefix: str | None) -> None:
    """List the objects of BUCKET."""
    objects = state.make_storage().list_objects(bucket, prefix)
    if not objects:
        click.echo(f"No objects in {bucket}" + (f" under {prefix!r}" if prefix else ""))
        return
    rows = [
        (obj["Key"], obj.get("Size", "-"), _when(obj.get("LastModified")))
        for obj in sorted(objects, key=lambda o: o["Key"])
    ]
    click.echo(render_table(("KEY", "SIZE", "LAST MODIFIED"), rows))
    click.echo(f"\n{len(rows)} object(s)")


@storage.command("delete")
@click.argument("bucket")
@click.argument("key", required=False)
@click.option("-p", "--prefix", default=None, help="Delete every key starting with this prefix.")
@common_options(storage_cmd=True)
@pass_state
def delete(state: CliState, bucket: str, key: str | None, prefix: str | None) -> None:
    """Delete KEY, or every key under --prefix, from BUCKET."""
    if (key is None) == (prefix is None):
        raise click.UsageError("give either a KEY or --prefix, not both and not neither")
    store = state.make_storage()
    if key is not None:
        store.delete_object(bucket, key)
        click.echo(f"Deleted {bucket}/{key}")
        return
    keys = store.list_keys(bucket, prefix)
    if keys:
        store.delete_objects(bucket, keys)
    click.echo(f"Deleted {len(keys)} object(s) under {bucket}/{prefix}")
