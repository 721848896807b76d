"""Opaque cursors for deep record paging: the last id of a page, signed and bound to its query.

A cursor carries the id to continue below, the user it was issued to, the month and a digest of the filters.
It is signed (Django's signing, the platform's secret): a cursor that was altered, or that belongs to another
user, month or filter set, is refused with 4001 instead of being followed — a client never gets rows of a
query it did not ask for, and never rows outside its own scope (the scope is applied to every page anyway).
"""
from __future__ import annotations

import hashlib
import json
from typing import Any

from django.core import signing
from django.utils.translation import gettext as _

from djs_platform import errors

SALT = "djs.records.cursor"


def _digest(year: int, month: int, filters: dict[str, Any]) -> str:
    given = {k: v for k, v in sorted(filters.items()) if v is not None}
    return hashlib.sha256(json.dumps([year, month, given], default=str).encode()).hexdigest()[:16]


def make(last_id: int, *, user, year: int, month: int, filters: dict[str, Any]) -> str:
    return signing.dumps({"id": int(last_id), "u": user.pk, "q": _digest(year, month, filters)}, salt=SALT)


def read(cursor: str, *, user, year: int, month: int, filters: dict[str, Any]) -> int:
    """The id to continue below, or 4001 when the cursor is not one this query issued to this user."""
    try:
        data = signing.loads(cursor, salt=SALT)
    except signing.BadSignature:
        raise errors.invalid("cursor", _("not a cursor this API issued (use nextCursor as it came)")) from None
    if not isinstance(data, dict) or not isinstance(data.get("id"), int):
        raise errors.invalid("cursor", _("not a cursor this API issued (use nextCursor as it came)"))
    if data.get("u") != user.pk or data.get("q") != _digest(year, month, filters):
        raise errors.invalid("cursor", _("belongs to another query: keep year, month and the filters of the page "
                                       "that gave it"))
    return data["id"]
