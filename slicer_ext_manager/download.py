"""Streamed, verified, resumable package downloads.

Downloads go through ``GET /file/{id}/download`` because completing that request is
what makes the server count the download. A package is written to ``<name>.part``,
hashed on the fly, verified against the checksum the server published (sha512)
and renamed into place; a dropped connection is resumed with ``Range`` (urllib3's
``Retry`` cannot resume a body). Limits a broken or hostile server cannot pass:

* never more bytes than the size the server declared (a server that keeps sending
  cannot fill the disk);
* a low-speed limit: slower than ``speed_limit`` bytes/s over ``speed_time`` seconds
  is abandoned with a sentence, like curl's ``--speed-limit``/``--speed-time``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping, Optional

import requests

from .errors import (
    CancelledError,
    ChecksumMismatchError,
    ChecksumMissingError,
    DownloadError,
    MalformedResponseError,
)
from .fileutil import human_size, os_error_text

if TYPE_CHECKING:  # pragma: no cover
    from .server import SlicerPackagesClient

log = logging.getLogger(__name__)

CHUNK_SIZE = 256 * 1024

#: progress(done_bytes, total_bytes_or_None) -> False to cancel (None/True to go on)
ProgressCallback = Callable[[int, Optional[int]], Optional[bool]]
CancelCheck = Callable[[], bool]

_STREAM_ERRORS = (requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError,
                  requests.exceptions.Timeout)


@dataclass(frozen=True)
class DownloadResult:
    """A package downloaded and verified."""

    path: Path
    file_name: str
    size: int
    sha512: str
    verified: bool
    resumed: int = 0


class _Part:
    """The ``.part`` file of one download and the hash of what it holds."""

    def __init__(self, dest: Path, resume: bool):
        self.path = dest.with_name(dest.name + ".part")
        self.hasher = hashlib.sha512()
        self.done = 0
        if resume and self.path.is_file():
            with open(self.path, "rb") as existing:
                for chunk in iter(lambda: existing.read(CHUNK_SIZE), b""):
                    self.hasher.update(chunk)
                    self.done += len(chunk)
        self.file = open(self.path, "ab" if self.done else "wb")

    def restart(self) -> None:
        self.file.seek(0)
        self.file.truncate()
        self.hasher, self.done = hashlib.sha512(), 0

    def write(self, chunk: bytes) -> None:
        self.file.write(chunk)
        self.hasher.update(chunk)
        self.done += len(chunk)


class Downloader:
    """The download half of :class:`~slicer_ext_manager.server.SlicerPackagesClient`."""

    def __init__(self, client: SlicerPackagesClient):
        self.client = client

    def package_file(self, item_id: str, name: str = "") -> dict[str, Any]:
        """The one file of an extension item (Slicer requires exactly one)."""
        label = f"{name} ({item_id})" if name else item_id
        files = self.client.item_files(item_id)
        if len(files) != 1:
            raise DownloadError(
                f"The server lists {len(files)} files for extension {label}, but exactly one package file is "
                "expected; the extension cannot be installed from this server (tell its administrator)."
            )
        if not files[0].get("_id"):
            raise MalformedResponseError(f"The server's file record for extension {label} has no id.")
        return files[0]

    def download_package(self, item_id: str, destination_dir: str | os.PathLike[str], *, name: str = "",
                         sha512: str = "", progress: ProgressCallback | None = None,
                         cancel: CancelCheck | None = None, file_record: Mapping[str, Any] | None = None,
                         durable: bool = True, resume: bool = False) -> DownloadResult:
        """Download the package file of extension item ``item_id`` into ``destination_dir``.

        ``sha512`` (usually the item's ``meta.sha512``; else the file record's) is verified;
        on mismatch the file is deleted and :class:`ChecksumMismatchError` raised.
        ``file_record``: the item's file record when already known (no ``/item/{id}/files`` request).
        ``resume``: as for :meth:`download_file` (a ``.part`` in ``destination_dir`` is continued and kept).
        """
        record = dict(file_record) if file_record else self.package_file(item_id, name)
        file_id = str(record["_id"])
        file_name = os.path.basename(str(record.get("name") or "")) or f"{item_id}.tar.gz"
        expected = (sha512 or str(record.get("sha512") or "")).lower()
        if not expected and self.client.options.require_checksum:
            raise ChecksumMissingError(
                f"The server publishes no checksum (sha512) for {name or file_name}, so its download could not be "
                "verified; it was not installed (--require-checksum). Ask the server's administrator to publish "
                "checksums, or install without --require-checksum if you trust this server."
            )
        size = record.get("size")
        return self.download_file(file_id, Path(destination_dir) / file_name, expected_sha512=expected,
                                  expected_size=int(size) if isinstance(size, int) and size >= 0 else None,
                                  progress=progress, cancel=cancel, label=name or file_name, durable=durable,
                                  resume=resume)

    def download_file(self, file_id: str, destination: str | os.PathLike[str], *, expected_sha512: str = "",
                      expected_size: int | None = None, progress: ProgressCallback | None = None,
                      cancel: CancelCheck | None = None, label: str = "", resume: bool = False,
                      durable: bool = True) -> DownloadResult:
        """Stream ``GET /file/{file_id}/download`` to ``destination`` (via ``<destination>.part``).

        ``resume``: continue a ``.part`` left by an earlier, interrupted run (with ``Range``),
        and keep the ``.part`` when this run is interrupted too. ``durable``: fsync before the
        rename (off for packages extracted right away and deleted: a crash then simply
        repeats the download).
        """
        self.client.authenticate()
        dest = Path(destination)
        label = label or dest.name
        part = _Part(dest, resume)
        run = _Run(self.client, file_id, label, expected_size, progress, cancel, resumed=1 if part.done else 0)
        try:
            with part.file:
                run.fetch(part)
                part.file.flush()
                if durable:
                    os.fsync(part.file.fileno())
            digest = part.hasher.hexdigest()
            if expected_sha512 and digest != expected_sha512:
                raise ChecksumMismatchError(
                    f"The downloaded package {label} does not match the checksum published by the server "
                    f"(sha512 expected {expected_sha512[:16]}…, got {digest[:16]}…); it was deleted. "
                    "Try again; if it happens again, tell the server's administrator."
                )
            os.replace(part.path, dest)
            return DownloadResult(dest, dest.name, part.done, digest, bool(expected_sha512), run.resumed)
        except ChecksumMismatchError:
            part.path.unlink(missing_ok=True)
            raise
        except BaseException:
            if not (resume and part.path.exists() and part.path.stat().st_size > 0):
                part.path.unlink(missing_ok=True)
            raise


def _chunks(response: requests.Response) -> Iterator[bytes]:
    """The body as it arrives. ``read1`` returns what one read got, so a dropped connection
    loses nothing already received (a full-size ``read`` would discard its partial chunk
    and the resume would start further back); ``iter_content`` where it is missing."""
    raw = response.raw
    read1 = getattr(raw, "read1", None)
    if read1 is None or response.headers.get("Transfer-Encoding", "").lower() == "chunked":
        yield from response.iter_content(CHUNK_SIZE)
        return
    while True:
        try:
            chunk = read1(CHUNK_SIZE, decode_content=True)
        except Exception as exc:  # urllib3's errors, as iter_content would raise them
            import urllib3.exceptions

            if isinstance(exc, (urllib3.exceptions.ProtocolError, urllib3.exceptions.ReadTimeoutError, OSError)):
                raise requests.exceptions.ChunkedEncodingError(exc) from exc
            raise
        if not chunk:
            return
        yield chunk


class _Run:
    """The request/resume loop of one download."""

    def __init__(self, client: SlicerPackagesClient, file_id: str, label: str, total: int | None,
                 progress: ProgressCallback | None, cancel: CancelCheck | None, resumed: int):
        self.client, self.file_id, self.label = client, file_id, label
        self.total, self.progress, self.cancel = total, progress, cancel
        self.resumed, self.failures = resumed, 0
        #: The size the server declared first: never written past, whatever later answers say.
        self.declared = total

    def fetch(self, part: _Part) -> None:
        from .network import WATCHDOG, Transfer

        opts = self.client.options
        while True:
            if part.done and self.total is not None and part.done >= self.total:
                if part.done == self.total:
                    return  # an earlier run had received everything
                part.restart()
            headers = {"Range": f"bytes={part.done}-"} if part.done else None
            with WATCHDOG.watch(Transfer(speed_limit=opts.speed_limit, speed_time=opts.speed_time)) as transfer:
                response = self.client.send("GET", f"/file/{self.file_id}/download", headers=headers, stream=True)
                with response:
                    self._accept(response, part)
                    try:
                        self._stream(response, part, transfer)
                    except _STREAM_ERRORS as exc:
                        self._dropped(part, exc, transfer)
                        continue
                if transfer.failure:  # the watchdog closed the connection: the body ended "normally"
                    self._dropped(part, None, transfer)
            if self.total is not None and part.done < self.total:
                self._dropped(part, None, None)
                continue
            return

    def _accept(self, response: requests.Response, part: _Part) -> None:
        if part.done and response.status_code != 206:
            part.restart()  # the server ignored the range: start over
        if response.status_code == 206:
            crange = response.headers.get("Content-Range", "")
            if "/" in crange and crange.rsplit("/", 1)[1].isdigit():
                self.total = int(crange.rsplit("/", 1)[1])
        elif response.headers.get("Content-Length", "").isdigit():
            self.total = int(response.headers["Content-Length"])
        if self.declared is None:
            self.declared = self.total
        elif self.total is not None and self.total != self.declared:
            raise DownloadError(
                f"The server changed the size of {self.label} during the download ({self.declared} then "
                f"{self.total} bytes); it was not installed. Try again later."
            )

    def _stream(self, response: requests.Response, part: _Part, transfer: Any) -> None:
        for chunk in _chunks(response):
            if self.cancel is not None and self.cancel():
                raise CancelledError(f"The download of {self.label} was cancelled.")
            if not chunk:
                continue
            if self.declared is not None and part.done + len(chunk) > self.declared:
                raise DownloadError(
                    f"The server sent more than the {human_size(self.declared)} it announced for {self.label}; "
                    "the download was stopped and deleted. Tell the server's administrator."
                )
            try:
                part.write(chunk)
            except OSError as exc:
                raise DownloadError(
                    f"The download of {self.label} could not be written to {part.path.parent} "
                    f"({os_error_text(exc)}); free some disk space or check the folder's permissions, "
                    "then try again."
                ) from exc
            transfer.count(len(chunk))
            if self.progress is not None and self.progress(part.done, self.total) is False:
                raise CancelledError(f"The download of {self.label} was cancelled.")

    def _dropped(self, part: _Part, exc: BaseException | None, transfer: Any) -> None:
        """A connection ended early: resume, or give up with the reason."""
        opts = self.client.options
        if transfer is not None and transfer.failure == "speed":
            raise DownloadError(
                f"The download of {self.label} was slower than {human_size(opts.speed_limit)}/s for "
                f"{opts.speed_time:g} s ({human_size(part.done)} of {human_size(self.total)} received) and was "
                "abandoned; check your network or proxy and try again."
            ) from exc
        self.failures += 1
        if self.failures > max(0, opts.retries):
            if exc is None:
                raise DownloadError(f"The download of {self.label} ended early ({part.done} of {self.total} "
                                    "bytes); try again.")
            raise DownloadError(
                f"The download of {self.label} was interrupted {self.failures} times ({part.done} of "
                f"{self.total or '?'} bytes received); check your network and try again."
            ) from exc
        self.resumed += 1
        log.info("Download of %s dropped at %d bytes; resuming.", self.label, part.done)
        time.sleep(opts.backoff * 2 ** (self.failures - 1))
