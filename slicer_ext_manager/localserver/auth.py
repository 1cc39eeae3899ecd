"""Logins on a read-only mirror: enough of Girder's authentication for the scripts of site
admins (``slicer_package_manager_client --username U --password P …`` or ``--api-key K``)
to work against ``serve``, and 405 for every write.

* ``GET /api/v1/user/authentication`` with HTTP Basic credentials answers Girder's
  ``{"authToken": {...}, "message": "Login succeeded.", "user": {...}}`` and sets the
  ``girderToken`` cookie; a wrong login is Girder's 401 ``Login failed.``;
* ``POST /api/v1/api_key/token?key=K`` answers ``{"authToken": {...}, "user": {...}}``;
* ``GET /api/v1/user/me`` answers the user of a valid ``Girder-Token`` (else ``null``).

Tokens only identify: the server stays read-only whoever is logged in (their scope is
``core.data.read``). Which logins are accepted (:class:`Logins`):

* none (the default): the login routes answer 401 with a sentence saying how to enable them;
* ``--users FILE``: one ``login:password`` per line (``#`` comments); a password may be given
  as ``sha256:<hex digest>`` instead of in clear; ``apikey:<KEY>`` lines accept that API key;
* ``--any-login``: every login and every API key is accepted (read-only tokens anyway).

Qt-free, standard library only.
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import hashlib
import hmac
import os
import secrets
import threading
from pathlib import Path
from typing import Any, Mapping

from .api import Json
from .documents import derive_id, iso
from .query import ApiError

__all__ = ["Logins", "read_users_file"]

TOKEN_DAYS = 30
_SCOPE = ["core.data.read"]


def read_users_file(path: str | os.PathLike[str]) -> tuple[dict[str, str], set[str]]:
    """``({login: password or "sha256:<hex>"}, {api keys})`` from a users file; ``ValueError``
    (one sentence) for a malformed line, ``OSError`` when it cannot be read."""
    users: dict[str, str] = {}
    keys: set[str] = set()
    text = Path(path).read_text(encoding="utf-8")
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        login, sep, secret = line.partition(":")
        login, secret = login.strip(), secret.strip()
        if not sep or not login or not secret:
            raise ValueError(f"line {number} of {path} is not 'login:password' (or 'apikey:KEY')")
        if login == "apikey":
            keys.add(secret)
        else:
            users[login] = secret
    return users, keys


def _matches(secret: str, password: str) -> bool:
    if secret.startswith("sha256:"):
        digest = hashlib.sha256(password.encode("utf-8")).hexdigest()
        return hmac.compare_digest(secret[len("sha256:"):].lower(), digest)
    return hmac.compare_digest(secret.encode("utf-8"), password.encode("utf-8"))


class Logins:
    """Who may log in (see the module docstring); thread-safe."""

    def __init__(self, users: Mapping[str, str] | None = None, api_keys: set[str] | None = None, *,
                 any_login: bool = False):
        self.users = dict(users or {})
        self.api_keys = set(api_keys or ())
        self.any_login = any_login
        self._tokens: dict[str, tuple[str, _dt.datetime]] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Logins:
        users, keys = read_users_file(path)
        return cls(users, keys)

    @property
    def enabled(self) -> bool:
        return self.any_login or bool(self.users) or bool(self.api_keys)

    def describe(self) -> str:
        if self.any_login:
            return "any login is accepted (read-only tokens)"
        if self.enabled:
            return f"{len(self.users)} login(s) and {len(self.api_keys)} API key(s) accepted (read-only tokens)"
        return "no logins (read commands need none)"

    # -- routes --------------------------------------------------------------------------------

    def write_request(self, method: str, parts: list[str], params: Mapping[str, str]) -> Json:
        """A request other than GET/HEAD: the API-key login, else 405."""
        if method == "POST" and parts == ["api_key", "token"] and self.enabled:
            return self._api_key_login(params.get("key", ""))
        allow = "GET, HEAD, POST" if parts == ["api_key", "token"] and self.enabled else "GET, HEAD"
        raise ApiError(f"This server is a read-only mirror: {method} is not allowed; upload packages to a Slicer "
                       "Package Manager server (e.g. with 'slicer-ext-manager mirror push') or add them to "
                       "the served folder.", status=405, headers={"Allow": allow})

    def read_request(self, parts: list[str], headers: Any) -> Json:
        """``GET /user/authentication`` and ``GET /user/me``."""
        if parts == ["user", "me"]:
            login = self._token_login(headers.get("Girder-Token") or _cookie_token(headers.get("Cookie", "")))
            return Json(self.user_document(login) if login else None)
        if parts != ["user", "authentication"]:
            raise ApiError(f'No matching route for "GET {"/".join(parts[1:])}"')
        if not self.enabled:
            raise ApiError("This mirror does not accept logins (read commands need none); start "
                           "'slicer-ext-manager serve' with --users FILE or --any-login to let clients log in.",
                           status=401, type="access")
        login, password = _basic_credentials(headers.get("Girder-Authorization") or headers.get("Authorization") or "")
        if login is None:
            raise ApiError("You must be logged in.", status=401, type="access")
        secret = self.users.get(login)
        if not self.any_login and (secret is None or not _matches(secret, password or "")):
            raise ApiError("Login failed.", status=401, type="access")
        token = self._issue(login)
        body = {"authToken": token, "message": "Login succeeded.", "user": self.user_document(login)}
        cookie = f"girderToken={token['token']}; expires={_cookie_date(token['expires'])}; Path=/"
        return Json(body, headers={"Set-Cookie": cookie})

    def _api_key_login(self, key: str) -> Json:
        if not key:
            raise ApiError('Parameter "key" is required.')
        if not self.any_login and not any(hmac.compare_digest(key, k) for k in self.api_keys):
            raise ApiError("Invalid API key.", status=400)
        login = "apikey-" + derive_id("apikey", key)[:8]
        return Json({"authToken": self._issue(login), "user": {"_id": derive_id("user", login)}})

    # -- tokens and documents ---------------------------------------------------------------------

    def _issue(self, login: str) -> dict[str, Any]:
        token = secrets.token_urlsafe(48)[:64]
        expires = _dt.datetime.now(_dt.timezone.utc) + _dt.timedelta(days=TOKEN_DAYS)
        with self._lock:
            self._tokens[token] = (login, expires)
        return {"expires": expires.isoformat(), "scope": list(_SCOPE), "token": token}

    def _token_login(self, token: str | None) -> str | None:
        if not token:
            return None
        with self._lock:
            entry = self._tokens.get(token)
        if entry is None or entry[1] < _dt.datetime.now(_dt.timezone.utc):
            return None
        return entry[0]

    @staticmethod
    def user_document(login: str) -> dict[str, Any]:
        """A Girder user document (a read-only, non-admin user)."""
        return {"_accessLevel": 0, "_id": derive_id("user", login), "_modelType": "user", "admin": False,
                "created": iso(_dt.datetime(2020, 1, 1, tzinfo=_dt.timezone.utc)), "email": f"{login}@localhost",
                "emailVerified": False, "firstName": login, "groupInvites": [], "groups": [], "lastName": "",
                "login": login, "otp": False, "public": False, "size": 0, "status": "enabled"}


def _basic_credentials(header: str) -> tuple[str | None, str | None]:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value.strip():
        return None, None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    login, sep, password = decoded.partition(":")
    return (login, password) if sep and login else (None, None)


def _cookie_token(cookie: str) -> str | None:
    for part in cookie.split(";"):
        name, _, value = part.strip().partition("=")
        if name == "girderToken" and value:
            return value
    return None


def _cookie_date(expires_iso: str) -> str:
    when = _dt.datetime.fromisoformat(expires_iso)
    return when.strftime("%a, %d %b %Y %H:%M:%S GMT")
