"""The audit trail every write leaves (``audit_log``, model :class:`~apps.accounts.models.AuditLog`).

Services of every app append to it with :func:`audit_record`; :func:`diff` and :func:`camel` shape the
``changes`` of an update in the API's field names. Reading it is ``GET /audit-logs``
(:mod:`apps.accounts.selectors`).
"""
from __future__ import annotations

from typing import Any

from apps.accounts.models import AuditLog
from djs_platform.actor import Actor


def audit_record(
    *,
    actor: Actor | None,
    action: str,
    object_type: str,
    object_id: Any = None,
    object_repr: str = "",
    department_id: int | None = None,
    changes: dict[str, Any] | None = None,
    username: str | None = None,
    ip: str = "",
    via: str = "rest",
) -> AuditLog:
    """Append one audit row. ``department_id`` decides who may read it (the object's department)."""
    user = actor.user if actor else None
    return AuditLog.objects.create(
        user_id=user.pk if user else None,
        username=(username or (user.username if user else ""))[:50],
        department_id=department_id if department_id is not None else (user.department_id if user else None),
        action=action,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        object_repr=str(object_repr)[:255],
        changes=changes or None,
        client_ip=(actor.ip if actor else ip)[:45],
        user_agent=actor.user_agent if actor else "",
        via=actor.via if actor else via,
    )


def camel(name: str) -> str:
    """``department_id`` -> ``departmentId``: audit rows speak the API's field names."""
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def diff(obj: Any, values: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``{apiField: {"old": ..., "new": ...}}`` for the model fields ``values`` actually changes."""
    changes = {}
    for field, new in values.items():
        old = getattr(obj, field)
        if old != new:
            changes[camel(field)] = {"old": old, "new": new}
    return changes
