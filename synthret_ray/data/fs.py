"""Paths that may be local or on any pyarrow filesystem (``s3://``, ``gs://``, ``hdfs://``)."""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterator

import pyarrow.fs as pafs


def is_remote(uri: str) -> bool:
    return "://" in str(uri) and not str(uri).startswith("file://")


def resolve(uri: str) -> tuple[pafs.FileSystem, str]:
    """The filesystem and the path on it; local paths become absolute."""
    uri = str(uri)
    if is_remote(uri):
        return pafs.FileSystem.from_uri(uri)
    if uri.startswith("file://"):
        uri = uri[len("file://") :]
    return pafs.LocalFileSystem(), os.path.abspath(uri)


def join(uri: str, *parts: str) -> str:
    return posixpath.join(str(uri), *parts) if is_remote(uri) else os.path.join(str(uri), *parts)


def exists(uri: str) -> bool:
    fs, path = resolve(uri)
    return fs.get_file_info(path).type != pafs.FileType.NotFound


def is_dir(uri: str) -> bool:
    fs, path = resolve(uri)
    return fs.get_file_info(path).type == pafs.FileType.Directory


def list_files(uri: str, suffix: str = "") -> list[str]:
    """Names of the files directly inside ``uri`` that end with ``suffix``, sorted."""
    fs, path = resolve(uri)
    infos = fs.get_file_info(pafs.FileSelector(path, allow_not_found=True))
    return sorted(
        posixpath.basename(i.path) for i in infos if i.type == pafs.FileType.File and i.path.endswith(suffix)
    )


def read_bytes(uri: str) -> bytes:
    filesystem, path = resolve(uri)
    with filesystem.open_input_stream(path) as f:
        return f.read()


def write_bytes(uri: str, data: bytes) -> None:
    """Write a whole file through a temporary name and a move, so readers never see half of it."""
    filesystem, path = resolve(uri)
    filesystem.create_dir(posixpath.dirname(path), recursive=True)
    tmp = f"{path}.tmp-{os.getpid()}"
    with filesystem.open_output_stream(tmp) as f:
        f.write(data)
    filesystem.move(tmp, path)


def iter_lines(uri: str, chunk_size: int = 1 << 20) -> Iterator[bytes]:
    """Raw lines without their line terminator (LF or CRLF), streamed so large files never load whole."""
    fs, path = resolve(uri)
    with fs.open_input_stream(path) as stream:
        pending = b""
        while True:
            chunk = stream.read(chunk_size)
            if not chunk:
                break
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                yield line[:-1] if line.endswith(b"\r") else line
        if pending:
            yield pending[:-1] if pending.endswith(b"\r") else pending
