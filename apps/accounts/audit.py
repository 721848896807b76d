"""The audit trail every write leaves (``audit_log``, model :class:`~apps.accounts.models.AuditLog`).

Services of every app append to it with :func:`audit_record`; :func:`diff` and :func:`camel` shape the
``changes`` of an update in the API's field names. Reading it is ``GET /audit-logs``
(:mod:`apps.accounts.selectors`).
"""
from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy

from apps.accounts.models import AuditLog
from djs_platform.actor import Actor

#: The ``actionLabel`` of an audit row in the request's language (docs/i18n.md); the ``action`` code never changes.
ACTION_LABELS = {
    "auth.login": gettext_lazy("Logged in"), "auth.login_failed": gettext_lazy("Failed login"),
    "auth.logout": gettext_lazy("Logged out"),
    "user.create": gettext_lazy("Created user"), "user.update": gettext_lazy("Updated user"),
    "user.delete": gettext_lazy("Deleted user"), "user.password": gettext_lazy("Changed password"),
    "user.token_create": gettext_lazy("Created API token"), "user.token_revoke": gettext_lazy("Revoked API token"),
    "role.create": gettext_lazy("Created role"), "role.update": gettext_lazy("Updated role"),
    "role.delete": gettext_lazy("Deleted role"),
    "department.create": gettext_lazy("Created department"), "department.update": gettext_lazy("Updated department"),
    "department.delete": gettext_lazy("Deleted department"),
    "task.create": gettext_lazy("Created task"), "task.update": gettext_lazy("Updated task"),
    "task.delete": gettext_lazy("Deleted task"), "task.status": gettext_lazy("Enabled or disabled task"),
    "task.rename": gettext_lazy("Renamed task"), "task.trigger": gettext_lazy("Ran task now"),
    "task.kill": gettext_lazy("Killed task"), "task.autopause": gettext_lazy("Paused task after failures"),
    "record.kill": gettext_lazy("Killed execution"),
    "scheduler.pause": gettext_lazy("Paused scheduling"), "scheduler.resume": gettext_lazy("Resumed scheduling"),
    "alert_policy.create": gettext_lazy("Created alert policy"),
    "alert_policy.update": gettext_lazy("Updated alert policy"),
    "alert_policy.delete": gettext_lazy("Deleted alert policy"), "alert_policy.test": gettext_lazy("Sent test alert"),
    "executor.create": gettext_lazy("Created executor"), "executor.update": gettext_lazy("Updated executor"),
    "executor.delete": gettext_lazy("Deleted executor"), "executor.register": gettext_lazy("Registered executor"),
    "executor.deregister": gettext_lazy("Deregistered executor"),
}


def action_label(action: str) -> str:
    """An audit action code in the active language; a code without a label is shown as it is."""
    label = ACTION_LABELS.get(action)
    return str(label) if label is not None else action


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
