"""Typed errors. Every error carries one sentence a user can act on (``str(err)``)."""

from __future__ import annotations


class ExtensionManagerError(Exception):
    """Base class of every error the core raises on purpose.

    ``str(error)`` is a complete sentence that says what happened and, where
    possible, what to do about it. Front ends show it as is.
    """


class ContextError(ExtensionManagerError):
    """The Slicer profile (settings files, revision, install path) could not be resolved."""


class SettingsError(ExtensionManagerError):
    """A settings file could not be read or written."""


class MetadataError(ExtensionManagerError):
    """Extension metadata is missing or malformed."""


class ArchiveError(ExtensionManagerError):
    """An extension package could not be read or extracted."""


class UnsafeArchiveError(ArchiveError):
    """An extension package contains an entry that would escape or corrupt the install folder."""


class ServerError(ExtensionManagerError):
    """Base class of errors talking to the extensions server."""


class ServerUnreachableError(ServerError):
    """The server could not be reached (DNS, refused connection, timeout, TLS)."""


class HTTPStatusError(ServerError):
    """The server answered with an HTTP error status."""

    def __init__(self, message: str, status: int, server_message: str = ""):
        super().__init__(message)
        self.status = status
        self.server_message = server_message


class MalformedResponseError(ServerError):
    """The server answered with something that is not the expected JSON."""


class UnknownAppError(ServerError):
    """No application of that name or id exists on the server."""


class UnknownExtensionError(ServerError):
    """The server has no extension of that name or id for this Slicer build."""


class ChecksumMismatchError(ServerError):
    """A downloaded file does not match the checksum the server published."""


class ChecksumMissingError(ServerError):
    """The server publishes no checksum for a package and verification is required."""


class DownloadError(ServerError):
    """A package could not be downloaded (wrong number of files, truncated stream...)."""


class CancelledError(ExtensionManagerError):
    """The operation was cancelled by the user."""

    def __init__(self, message: str = "The operation was cancelled."):
        super().__init__(message)


class InstallError(ExtensionManagerError):
    """An extension could not be installed, updated or uninstalled."""


class DependencyError(InstallError):
    """Dependencies could not be resolved (cycle, unknown extension)."""
