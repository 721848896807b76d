"""Small conversions shared by the servicers: times, ids, pages. (Field errors are renamed to the request's
names with :func:`djs_platform.errors.field_names`.)"""
from __future__ import annotations

from datetime import datetime
from datetime import timezone as dt_timezone
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from djs_platform import errors
from djs_platform.validation import clean_text

MAX_PAGE_SIZE = 100
#: Times a request may name: a day of margin inside what ``datetime`` holds, so converting to any zone and
#: widening to whole local days (statistics) cannot overflow.
MIN_TIME = datetime(1, 1, 2, tzinfo=dt_timezone.utc)
MAX_TIME = datetime(9999, 12, 30, 23, 59, 59, tzinfo=dt_timezone.utc)


def text(value: str | None) -> str:
    """A string for a response field: ``""`` for none, lone surrogates of a legacy row as U+FFFD (protobuf
    refuses to hold them, which would fail the whole call)."""
    return clean_text(value) if value else ""


def iso(value: datetime | None) -> str:
    """ISO-8601 UTC with ``Z`` (``""`` for no time: proto3 strings cannot be null)."""
    if value is None:
        return ""
    return value.astimezone(dt_timezone.utc).isoformat().replace("+00:00", "Z")


def parse_time(field: str, value: str) -> datetime | None:
    """An ISO-8601 time (``2026-05-01T08:00:00Z``, ``...+08:00``); without an offset it is read in the platform
    time zone. Empty = not given."""
    if not value or not value.strip():
        return None
    try:
        parsed = parse_datetime(value.strip())
    except ValueError:
        parsed = None
    if parsed is None:
        raise errors.invalid(field, _("must be an ISO-8601 time such as 2026-05-01T08:00:00Z"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=ZoneInfo(settings.TIME_ZONE))
    try:  # 0001-01-01T00:00:00+14:00 is a valid ISO time whose UTC instant Python cannot hold
        in_utc = parsed.astimezone(dt_timezone.utc)
    except OverflowError:
        in_utc = None
    if in_utc is None or not MIN_TIME <= in_utc <= MAX_TIME:
        raise errors.invalid(field, _("must lie between %(min_time)s and %(max_time)s")
                                    % {"min_time": iso(MIN_TIME), "max_time": iso(MAX_TIME)})
    return parsed


def require_id(field: str, value: int) -> int:
    if value <= 0:
        raise errors.invalid(field, _("required: a positive id"))
    return value


def optional_id(field: str, value: int) -> int | None:
    """0 = not given (proto3 default); negative is an error."""
    if value < 0:
        raise errors.invalid(field, _("must be a positive id, or 0 for none"))
    return value or None


def page_args(page: int, size: int, default_size: int = 10) -> tuple[int, int]:
    """Like the REST ``page``/``size`` query (0 = default); out of range is INVALID_ARGUMENT, not clamped."""
    if page < 0:
        raise errors.invalid("page", _("must be 1 or more (0 = first page)"))
    if size < 0 or size > MAX_PAGE_SIZE:
        raise errors.invalid("size", _("must be between 1 and %(max)s (0 = %(default)s)")
                                     % {"max": MAX_PAGE_SIZE, "default": default_size})
    return page or 1, size or default_size
