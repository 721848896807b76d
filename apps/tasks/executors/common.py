"""Pieces shared by the HTTP and gRPC executors: one call's result and the capture bounds."""
from __future__ import annotations

import asyncio
import codecs
import errno
import socket
from dataclasses import dataclass

# What an execution record keeps. The response limit is in bytes of the body as received (after
# content decoding), the error limit in characters; both are module constants so an operator or a
# later config key can change them in one place.
RESPONSE_LIMIT = 64 * 1024
ERROR_LIMIT = 4 * 1024
TRUNCATED_MARK = " …[truncated]"


@dataclass
class CallResult:
    """The result of one call to one target (primary or fallback) within one attempt."""

    success: bool
    status_code: int | None = None
    response: str | None = None
    error: str | None = None
    response_truncated: bool = False
    # Retrying cannot change the answer: the task is misconfigured or the egress policy refused.
    permanent: bool = False
    # No connection to the target could be established (refused, unreachable, name resolution or TLS
    # handshake failed): nothing of the request was sent. Route strategy ``failover`` tries the next instance.
    unreachable: bool = False


def bound_error(text: str, limit: int = ERROR_LIMIT) -> str:
    text = " ".join(str(text).split()) if "\n" in str(text) else str(text)
    if len(text) <= limit:
        return text
    return text[: max(0, limit - len(TRUNCATED_MARK))] + TRUNCATED_MARK


def decode_bounded(data: bytes, encoding: str | None) -> str:
    """Decode captured bytes; an incomplete multi-byte sequence at the cut is dropped, not mangled."""
    try:
        decoder = codecs.getincrementaldecoder(encoding or "utf-8")(errors="replace")
    except LookupError:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    return decoder.decode(data, final=False)


class BoundedCapture:
    """Keeps at most ``limit`` bytes of a streamed body; ``full`` tells the reader to stop."""

    def __init__(self, limit: int = RESPONSE_LIMIT):
        self.limit = limit
        self.parts: list[bytes] = []
        self.size = 0
        self.truncated = False

    def feed(self, chunk: bytes) -> bool:
        """Add a chunk; returns True once the limit is reached (the caller stops reading)."""
        room = self.limit - self.size
        if len(chunk) > room:
            chunk = chunk[:room]
            self.truncated = True
        if chunk:
            self.parts.append(chunk)
            self.size += len(chunk)
        return self.truncated

    def value(self) -> bytes:
        return b"".join(self.parts)


_NEVER_CONNECTED = {"ConnectError", "ConnectTimeout", "ClientConnectorError", "ClientConnectorDNSError",
                    "ClientConnectorCertificateError", "ClientConnectorSSLError", "ClientSSLError",
                    "ConnectionRefusedError", "gaierror"}
_CUT_AFTER_CONNECT = {"ServerDisconnectedError", "RemoteProtocolError", "ConnectionResetError", "ReadError",
                      "WriteError", "BrokenPipeError", "ClientPayloadError", "ReadTimeout", "WriteTimeout"}


def never_connected(exc: BaseException) -> bool:
    """True when ``exc`` says no connection was established, so no byte of the request reached the target.

    A failure after the connection existed (reset, disconnect, timeouts while reading or writing) is not: the
    target may have received the request. Clients wrap the original error (aiohttp's ClientConnectorError wraps
    the refused connection's OSError, gRPC its own), so the whole cause chain decides.
    """
    names: set[str] = set()
    cur: BaseException | None = exc
    seen = 0
    while cur is not None and seen < 8:
        names.add(type(cur).__name__)
        if isinstance(cur, OSError) and cur.errno in _UNREACHABLE_ERRNOS:
            names.add("ConnectionRefusedError")
        cur, seen = cur.__cause__ or cur.__context__, seen + 1
    return bool(names & _NEVER_CONNECTED) and not names & _CUT_AFTER_CONNECT


_UNREACHABLE_ERRNOS = {errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EADDRNOTAVAIL}


def describe_exception(exc: BaseException) -> str:
    """A short, operator-readable description of a transport failure (no traceback, no noise).

    Clients wrap the original error (aiohttp's ClientConnectorError around an OSError, for instance), so the
    root cause is looked up along ``__cause__`` first.
    """
    chain: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and cur not in chain and len(chain) < 8:
        chain.append(cur)
        cur = cur.__cause__ or cur.__context__
    names = {type(e).__name__ for e in chain}
    text = next((str(e) for e in chain if str(e)), "")
    if isinstance(exc, (TimeoutError, asyncio.TimeoutError)) or names & {"ReadTimeout", "WriteTimeout",
                                                                      "SocketTimeoutError",
                                                                      "ServerTimeoutError"}:
        return f"timed out: {text}" if text else "timed out"
    if names & {"ServerDisconnectedError", "RemoteProtocolError", "ConnectionResetError",
                "ClientPayloadError", "ReadError", "BrokenPipeError"}:
        return f"connection reset or closed by the target: {text or 'server disconnected'}"
    if any(isinstance(e, socket.gaierror) for e in chain) or "ClientConnectorDNSError" in names:
        return f"name resolution failed: {text}"
    if names & {"ClientConnectorError", "ConnectError", "ConnectionRefusedError"}:
        return f"connection failed: {text}"
    return f"{type(chain[-1]).__name__}: {text}" if text else type(chain[-1]).__name__
