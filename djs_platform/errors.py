"""One error vocabulary for REST and gRPC.

Every failure a client can cause is an :class:`ApplicationError` with a DJS code and the matching HTTP
status; the REST exception handler renders the envelope and the gRPC layer maps the same code to a status.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _


class ApplicationError(Exception):
    code: int = 5000
    http_status: int = 500
    #: Messages are marked for translation (docs/i18n.md): the message and field errors are rendered in the language
    #: active when the error is raised (the request's, or English in scheduler threads).
    default_message: str = _("internal error")

    def __init__(self, message: str | None = None, *, fields: dict[str, Any] | None = None):
        self.message = text(message or self.default_message)
        self.fields = text(fields) if fields else fields
        super().__init__(self.message)

    def __str__(self) -> str:
        return str(self.message)


class InvalidArgument(ApplicationError):
    code, http_status, default_message = 4001, 400, _("invalid parameter")


class Unauthenticated(ApplicationError):
    code, http_status, default_message = 4010, 401, _("not authenticated")


class Forbidden(ApplicationError):
    code, http_status, default_message = 4003, 403, _("permission denied")


class NotFound(ApplicationError):
    code, http_status, default_message = 4004, 404, _("not found")


class MethodNotAllowed(ApplicationError):
    code, http_status, default_message = 4005, 405, _("method not allowed")


class Conflict(ApplicationError):
    code, http_status, default_message = 4009, 409, _("conflict")


class AlreadyExists(Conflict):
    """A unique name is taken (username, role name, sibling department name): 4009/409 in REST,
    ALREADY_EXISTS in gRPC, where other conflicts are FAILED_PRECONDITION."""

    default_message = _("already exists")


class TooManyRequests(ApplicationError):
    code, http_status, default_message = 4029, 429, _("too many requests")

    def __init__(self, message: str | None = None, *, retry_after: int | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class ServiceUnavailable(ApplicationError):
    """A dependency (database, revocation store) is down; the request was refused, not half-done."""

    code, http_status, default_message = 5000, 503, _("service temporarily unavailable")


class InternalError(ApplicationError):
    code, http_status, default_message = 5000, 500, _("internal error")


def invalid(field: str, message: str) -> InvalidArgument:
    """Shortcut for a single-field validation error."""
    return InvalidArgument(gettext("%(field)s: %(message)s") % {"field": field, "message": message},
                           fields={field: [message]})


def renamed(exc: InvalidArgument, rename: Callable[[str], str]) -> InvalidArgument:
    """The same 4001 with each field named as the caller's client knows it (``rename`` maps one key, e.g. a
    spec's ``max_retry`` to REST's ``retryCount`` or gRPC's ``params.retryCount``); the message names the first
    field again. An error without fields is returned as it is."""
    if not exc.fields:
        return exc
    fields: dict[str, list[str]] = {}
    for key, messages in exc.fields.items():
        fields.setdefault(rename(key), []).extend(messages if isinstance(messages, (list, tuple)) else [messages])
    first, messages = next(iter(fields.items()))
    return InvalidArgument(gettext("%(field)s: %(message)s") % {"field": first, "message": messages[0]}, fields=fields)


@contextmanager
def field_names(rename: Callable[[str], str]) -> Iterator[None]:
    """Re-raise every 4001 raised inside with its fields renamed (:func:`renamed`)."""
    try:
        yield
    except InvalidArgument as exc:
        raise renamed(exc, rename) from None


def text(value: Any) -> Any:
    """``value`` with every lazily translated message (``gettext_lazy``) rendered in the active language: errors keep
    plain strings (JSON encoders, ``str.join`` and protobuf fields do not take a lazy string)."""
    if isinstance(value, Promise):
        return str(value)
    if isinstance(value, dict):
        return {key: text(item) for key, item in value.items()}
    if isinstance(value, list):
        return [text(item) for item in value]
    if isinstance(value, tuple):
        return tuple(text(item) for item in value)
    return value
