"""The rules of an HTTP task's request that hold at save time and at run time: one set (issue 18).

:class:`~apps.tasks.specs.TaskSpec` refuses a task (4001) that breaks them, the trigger overrides of
``POST /tasks/{id}/trigger`` are checked with them too, and the HTTP executor applies them again before each
call (to rows written around the API), where a violation is a permanent configuration error.

Methods: the seed's five (GET, POST, PUT, PATCH, DELETE; ``004_*.txt``, task table and the console's list).
The executor used to accept HEAD and OPTIONS as well, which no API could store; a task is what it can be saved
as. Header names are RFC 9110 tokens of at most 100 characters; values are strings of at most 8,192 characters
without control characters (tab allowed), so no header injection; the headers DJS sets itself cannot be set
by a task.
"""
from __future__ import annotations

import re
from typing import Any

from django.utils.translation import gettext as _

#: The methods an HTTP task may use (the seed's list).
HTTP_METHODS: tuple[str, ...] = ("GET", "POST", "PUT", "PATCH", "DELETE")
#: At most this many headers per task (or per trigger override).
MAX_HEADERS = 50
MAX_HEADER_VALUE = 8192
HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$")  # RFC 9110 token
#: Characters a header value may not hold (CR and LF among them: no header injection); tab is allowed.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
#: Sent (value "1") on a re-run of an execution that had started on a node that died (docs/scheduling.md).
RECOVERY_HEADER = "X-DJS-Recovery"
#: Sent on each shard of a broadcast fire: its index (0..n-1) and n (docs/executors.md "Broadcast").
SHARD_INDEX_HEADER, SHARD_TOTAL_HEADER = "X-DJS-Shard-Index", "X-DJS-Shard-Total"
#: Headers DJS sets on every call: a task's own value would be replaced (or dropped) at run time.
OWN_HEADERS = frozenset({"idempotency-key", "traceparent", RECOVERY_HEADER.lower(), SHARD_INDEX_HEADER.lower(),
                         SHARD_TOTAL_HEADER.lower()})
#: Headers a task cannot set (lower case): ours, and those the HTTP client must control.
RESERVED_HEADERS = OWN_HEADERS | {"host", "content-length", "transfer-encoding", "connection", "tracestate",
                                  "upgrade", "te", "trailer", "keep-alive", "proxy-authorization"}


def default_method(body: str | None) -> str:
    """The method of an HTTP task that names none (the seed's gRPC sample): POST with a body, else GET."""
    return "POST" if body else "GET"


def method_problem(method: str) -> str | None:
    if method.upper() not in HTTP_METHODS:
        return _("must be one of %(http_methods)s") % {"http_methods": ', '.join(HTTP_METHODS)}
    return None


def header_problem(name: Any, value: Any) -> str | None:
    """Why one header cannot be sent, or None."""
    if not isinstance(name, str) or not HEADER_NAME.match(name):
        return _("invalid header name %(name)r") % {"name": name}
    if name.lower() in RESERVED_HEADERS:
        return _("header %(name)r is set by DJS and cannot be overridden") % {"name": name}
    if not isinstance(value, str) or "\r" in value or "\n" in value or len(value) > MAX_HEADER_VALUE:
        return _("header %(name)r must be a single-line string") % {"name": name}
    if CONTROL_CHARACTERS.search(value):
        return _("header %(name)r must not contain control characters") % {"name": name}
    return None


def headers_problem(headers: dict[str, Any]) -> str | None:
    """Why a task's headers cannot be sent (the first problem), or None."""
    if len(headers) > MAX_HEADERS:
        return _("at most %(max_headers)s headers") % {"max_headers": MAX_HEADERS}
    for name, value in headers.items():
        problem = header_problem(name, value)
        if problem:
            return problem
    return None
