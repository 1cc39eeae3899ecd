"""archive.gzipstream: the gzip reader of the one-pass extraction refuses what ``gzip``
refuses and reads what it reads (several members), in bounded pieces."""

from __future__ import annotations

import gzip
import io
import os
import zlib

import pytest

from slicer_ext_manager.archive import extract_verified
from slicer_ext_manager.archive.gzipstream import GzipStream
from slicer_ext_manager.errors import ArchiveError

from .test_archive import NAME, REV, base_entries, make_tar, pkg_path


def _read_all(data: bytes, size: int = 4096) -> bytes:
    stream, parts = GzipStream(io.BytesIO(data), input_chunk=1000), []
    while True:
        chunk = stream.read(size)
        assert len(chunk) <= size
        if not chunk:
            return b"".join(parts)
        parts.append(chunk)


def test_members_in_turn_in_bounded_reads():
    first, second = os.urandom(50_000), b"z" * 300_000  # incompressible, then very compressible
    data = gzip.compress(first) + bytes(3000) + gzip.compress(second, mtime=0) + bytes(700)  # zero padding
    assert _read_all(data) == gzip.decompress(data) == first + second
    assert _read_all(b"") == b""


@pytest.mark.parametrize("damage", ["truncated", "crc", "length", "garbage after", "zeros then garbage", "not gzip"])
def test_refuses_what_gzip_refuses(damage):
    data = bytearray(gzip.compress(os.urandom(20_000)))
    if damage == "truncated":
        data = data[:-100]
    elif damage == "crc":
        data[-8] ^= 0xFF
    elif damage == "length":
        data[-1] ^= 0xFF
    elif damage == "garbage after":
        data += b"garbage!"
    elif damage == "zeros then garbage":
        data += bytes(5000) + b"\x1f\x8b garbage"
    else:
        data = bytearray(zlib.compress(b"zlib, not gzip"))
    with pytest.raises((OSError, EOFError)):
        gzip.decompress(bytes(data))
    with pytest.raises((zlib.error, EOFError)):
        _read_all(bytes(data))


def test_package_of_two_gzip_members_extracts(tmp_path):
    plain = make_tar(pkg_path(tmp_path, ".tar"), base_entries(), "")
    body = plain.read_bytes()
    pkg = pkg_path(tmp_path)
    pkg.write_bytes(gzip.compress(body[:10_000]) + gzip.compress(body[10_000:]))
    staging = tmp_path / "staging"
    staging.mkdir()
    info, root = extract_verified(pkg, staging, expected_name=NAME, app_revision=REV)
    assert info.extension_name == NAME and (root / "share").is_dir()


def test_truncated_package_is_damaged(tmp_path):
    pkg = make_tar(pkg_path(tmp_path), base_entries())
    pkg.write_bytes(pkg.read_bytes()[:-20])
    staging = tmp_path / "staging"
    staging.mkdir()
    with pytest.raises(ArchiveError, match="damaged or incomplete"):
        extract_verified(pkg, staging, expected_name=NAME, app_revision=REV)
    assert not any(staging.iterdir())
