"""The REST session of ``djsctl``: where the token lives, how it is refreshed, how answers are unwrapped.

Credentials are kept in ``$XDG_CONFIG_HOME/djs/credentials.json`` (``~/.config/djs/`` without it): the server
URL, the username and the token pair. The directory is created 0700 and the file is written 0600 through a
temporary file and a rename, so a half-written or world-readable token never exists. The access token is
refreshed through ``POST /auth/refresh`` when it is about to expire, or when the server answers 4010 to it;
refresh tokens are single use (a reused one revokes the whole login), so the refresh runs under an exclusive
lock on the credentials, and a djsctl that waited for the lock takes the pair the other one just stored.

``DJS_TOKEN`` in the environment (a personal API token ``djs_pat_...``, issue 19, or any bearer token) replaces
all of that: it is sent as ``Authorization: Bearer``, the credentials file is neither read nor written, nothing
is refreshed, and the server is ``--server``, else ``DJS_SERVER``, else the default. Meant for scripts and
sidecars, where nobody can type a password.
"""
from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

DEFAULT_SERVER = "http://127.0.0.1:9088/v1"
#: Refresh this many seconds before the access token's announced expiry.
REFRESH_MARGIN = 30
USER_AGENT = "djsctl/1.0"
#: The bearer token to use instead of a login (issue 19), and the server it is for.
TOKEN_ENV, SERVER_ENV = "DJS_TOKEN", "DJS_SERVER"


class CliError(Exception):
    """Anything djsctl reports and exits non-zero on; ``code``/``data`` come from the API envelope, ``status`` is
    the exit status (1, or 124 when ``--wait`` ran out of time)."""

    def __init__(self, message: str, code: int | None = None, data: Any = None, status: int = 1):
        super().__init__(message)
        self.message, self.code, self.data, self.status = message, code, data, status


def config_dir(environ: dict[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    base = env.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "djs"


def normalize_server(url: str) -> str:
    """``host:9088``, ``http://host:9088`` and ``http://host:9088/v1/`` all mean ``http://host:9088/v1``."""
    url = url.strip().rstrip("/")
    if "://" not in url:
        url = "http://" + url
    scheme, rest = url.split("://", 1)
    if scheme not in ("http", "https") or not rest:
        raise CliError(f"invalid server URL {url!r}: use http(s)://host:port[/v1]")
    if "/" not in rest:
        url += "/v1"
    return url


@dataclass
class Credentials:
    server: str
    username: str = ""
    token: str = ""
    refresh_token: str = ""
    expires_at: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return {"server": self.server, "username": self.username, "token": self.token,
                "refreshToken": self.refresh_token, "expiresAt": self.expires_at}


class Store:
    """The credentials file (0600) and its lock."""

    def __init__(self, directory: Path | None = None):
        self.directory = directory or config_dir()
        self.path = self.directory / "credentials.json"

    def load(self) -> Credentials | None:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise CliError(f"cannot read {self.path}: {exc}; run `djsctl login` again") from None
        if not isinstance(raw, dict) or not isinstance(raw.get("server"), str):
            raise CliError(f"{self.path} is not a djsctl credentials file; run `djsctl login` again")
        return Credentials(server=raw["server"], username=str(raw.get("username") or ""),
                           token=str(raw.get("token") or ""), refresh_token=str(raw.get("refreshToken") or ""),
                           expires_at=float(raw.get("expiresAt") or 0))

    def save(self, creds: Credentials) -> None:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = self.directory / f".credentials.{os.getpid()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.fchmod(fd, 0o600)  # also when the umask or an old file said otherwise
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(creds.as_json(), fh, indent=2)
                fh.write("\n")
            os.replace(tmp, self.path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    @contextmanager
    def locked(self) -> Iterator[None]:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.directory / "credentials.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock


class Session:
    """Calls ``/v1`` routes with the stored token and returns the envelope's ``data``."""

    def __init__(self, store: Store, server: str | None = None, timeout: float = 30.0, load: bool = True,
                 environ: dict[str, str] | None = None):
        env = os.environ if environ is None else environ
        self.store = store
        #: ``DJS_TOKEN``: used as it is, no credentials file, no refresh (not for ``login``, which passes load=False)
        self.env_token = (env.get(TOKEN_ENV) or "").strip() if load else ""
        self.creds = store.load() if load and not self.env_token else None
        if self.env_token:
            server = server or env.get(SERVER_ENV) or DEFAULT_SERVER
        self.server = normalize_server(server) if server else (self.creds.server if self.creds else DEFAULT_SERVER)
        self.http = httpx.Client(timeout=timeout, headers={"User-Agent": USER_AGENT})

    # --- transport ---

    def _send(self, method: str, path: str, token: str | None, **kwargs: Any) -> tuple[int, dict[str, Any]]:
        url = self.server + "/" + path.lstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if "json" in kwargs:  # YAML dates and the like travel as text; the server validates them
            kwargs["content"] = json.dumps(kwargs.pop("json"), default=str).encode()
            headers["Content-Type"] = "application/json"
        try:
            response = self.http.request(method, url, headers=headers, **kwargs)
        except httpx.TransportError as exc:
            raise CliError(f"cannot reach {self.server}: {exc or type(exc).__name__}") from None
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise CliError(f"{method} {url}: {exc}") from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or not {"code", "message", "data"} <= set(body):
            raise CliError(f"{method} {url} answered HTTP {response.status_code} without the DJS envelope "
                           "(is the server URL right? it ends with the context path, e.g. /v1)")
        return response.status_code, body

    @staticmethod
    def _unwrap(body: dict[str, Any]) -> Any:
        if body["code"] != 0:
            raise CliError(str(body["message"]), code=body["code"], data=body["data"])
        return body["data"]

    # --- session ---

    def login(self, username: str, password: str) -> dict[str, Any]:
        _, body = self._send("POST", "auth/login", None, json={"username": username, "password": password})
        data = self._unwrap(body)
        self._store_pair(username, data)
        return data

    def _store_pair(self, username: str, data: dict[str, Any]) -> None:
        self.creds = Credentials(server=self.server, username=username, token=data["token"],
                                 refresh_token=data["refreshToken"],
                                 expires_at=time.time() + float(data.get("expiresIn") or 0))
        self.store.save(self.creds)

    def _require_login(self) -> Credentials:
        if self.env_token:
            return Credentials(server=self.server, token=self.env_token, expires_at=float("inf"))
        if not self.creds or not self.creds.token:
            raise CliError("not logged in: run `djsctl login`")
        if self.creds.server != self.server:
            raise CliError(f"logged in to {self.creds.server}, not {self.server}: run `djsctl login --server "
                           f"{self.server}`")
        return self.creds

    def refresh(self, stale_token: str) -> None:
        """Exchange the refresh token for a new pair, unless another djsctl already did."""
        with self.store.locked():
            current = self.store.load()
            if current and current.token and current.token != stale_token and current.server == self.server:
                self.creds = current
                return
            creds = self._require_login()
            _, body = self._send("POST", "auth/refresh", None, json={"refreshToken": creds.refresh_token})
            if body["code"] != 0:
                raise CliError(f"session expired or revoked ({body['message']}): run `djsctl login`",
                               code=body["code"], data=body["data"])
            self._store_pair(creds.username, body["data"])

    def call(self, method: str, path: str, *, json_body: Any = None, params: dict[str, Any] | None = None) -> Any:
        if self.env_token:
            return self._call_with_env_token(method, path, json_body=json_body, params=params)
        creds = self._require_login()
        if creds.expires_at - REFRESH_MARGIN <= time.time():  # 0: unknown expiry, refresh too
            self.refresh(creds.token)
        kwargs: dict[str, Any] = {}
        if json_body is not None:
            kwargs["json"] = json_body
        if params:
            kwargs["params"] = {k: v for k, v in params.items() if v is not None}
        token = self.creds.token
        _, body = self._send(method, path, token, **kwargs)
        if body["code"] == 4010:  # expired early (clock skew) or revoked: one refresh, one retry
            self.refresh(token)
            _, body = self._send(method, path, self.creds.token, **kwargs)
        return self._unwrap(body)

    def _call_with_env_token(self, method: str, path: str, *, json_body: Any, params: dict[str, Any] | None) -> Any:
        kwargs: dict[str, Any] = {}
        if json_body is not None:
            kwargs["json"] = json_body
        if params:
            kwargs["params"] = {k: v for k, v in params.items() if v is not None}
        _, body = self._send(method, path, self.env_token, **kwargs)
        if body["code"] == 4010:  # nothing to refresh: say which token was refused
            raise CliError(f"{body['message']} (the token in {TOKEN_ENV})", code=4010, data=body["data"])
        return self._unwrap(body)

    def logout(self) -> None:
        """Revoke the session on the server (every token of the user) and forget it here."""
        if self.env_token:
            raise CliError(f"{TOKEN_ENV} is set: there is no login to end (unset it; an API token is revoked with "
                           "`djsctl tokens revoke ID`)")
        creds = self._require_login()
        try:
            self.call("POST", "auth/logout", json_body={"refreshToken": creds.refresh_token})
        finally:
            self.creds = Credentials(server=creds.server, username=creds.username)
            self.store.save(self.creds)
