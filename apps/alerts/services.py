"""Alert policies (writes) and alerts (open, deliver, close).

Who may do what: writing any policy needs ``task:update`` (checked first, so a missing permission is 4003
wherever the policy is); a department default needs ``department:manage`` as well. Both within the actor's
department scope (4004 outside it, as everywhere; 4001 for a task or department named in a body).

Opening an alert (:func:`open_alert`, run by scheduler nodes on their alerts thread) decides, under a lock
on the policy row, whether the event becomes an alert:

- the policy must still be enabled (it may have changed since the node cached it);
- a failure that completes a run of ``consecutiveFailures`` failures becomes a ``consecutive`` alert (and,
  with ``autoPause``, disables the task, audited as the system) instead of a plain ``failure`` alert;
- ``dedup_key`` is unique: one event (kind + record) is alerted once, whichever node saw it;
- cooldown: within ``cooldownSeconds`` of the last alert of the same kind for the same task, the event is
  counted in that alert's ``suppressed`` instead; the next alert reports how many were suppressed;
- rate limit: at most ``alerts.maxPerMinute`` alerts per department per minute, the rest are suppressed.
"""
from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext

from apps.accounts.audit import audit_record, camel
from apps.alerts import delivery
from apps.alerts.models import Alert, AlertKind, AlertPolicy, AlertStatus
from apps.alerts.specs import PolicySpec
from apps.departments.models import Department
from apps.records.models import RecordStatus, existing_record_tables, record_model, table_name
from apps.tasks.models import Task, TaskStatus
from djs_platform import errors, metrics
from djs_platform.actor import Actor
from djs_platform.inputs import MISSING
from djs_platform.tenancy import get_in_scope, require_department_in_scope, require_permission

log = logging.getLogger("djs.alerts")

#: PolicySpec field -> column (the same names); audit rows name them as the API does (camelCase).
POLICY_FIELDS = ("enabled", "on_failure", "consecutive_failures", "auto_pause", "overrun_seconds", "lag_seconds",
                 "webhook_url", "emails", "cooldown_seconds")


# --- policies (REST) -----------------------------------------------------------------------------

def _apply(policy: AlertPolicy, spec: PolicySpec) -> dict[str, Any]:
    """Copy the fields the write gives onto the policy; the audit diff (the secret only as changed/not)."""
    changes: dict[str, Any] = {}
    given = spec.given()
    for column in POLICY_FIELDS:
        if column in given and getattr(policy, column) != given[column]:
            changes[camel(column)] = {"old": getattr(policy, column), "new": given[column]}
            setattr(policy, column, given[column])
    if "webhook_secret" in given:  # "" removes it; omitted keeps it
        secret = given["webhook_secret"] or None
        if secret != policy.webhook_secret:
            changes["webhookSecret"] = "changed" if secret else "removed"
            policy.webhook_secret = secret
    return changes


def _check_complete(policy: AlertPolicy) -> None:
    """A policy that can never send anything is a mistake: refuse it (4001)."""
    if not policy.webhook_url and not policy.emails:
        raise errors.invalid("webhook_url", gettext("give a webhook URL or at least one e-mail address"))
    if not (policy.on_failure or policy.consecutive_failures or policy.overrun_seconds or policy.lag_seconds):
        raise errors.invalid("on_failure", gettext("turn on at least one condition (onFailure, consecutiveFailures, "
                                           "overrunSeconds, lagSeconds)"))
    if policy.auto_pause and not policy.consecutive_failures:
        raise errors.invalid("auto_pause", gettext("needs consecutiveFailures"))


@transaction.atomic
def policy_create(*, actor: Actor, spec: PolicySpec) -> AlertPolicy:
    """A task's own policy (``spec.task_id``) or a department default (``spec.department_id``). Field errors
    use the spec's names (``task_id``, ``webhook_url``)."""
    spec = spec.checked(create=True)
    task_id = None if spec.task_id is MISSING else spec.task_id
    department_id = None if spec.department_id is MISSING else spec.department_id
    user = actor.user
    require_permission(user, "task:update")
    if task_id is not None:
        task = Task.objects.restrict(user).filter(pk=task_id).first()
        if task is None:
            raise errors.invalid("task_id", gettext("task %(task_id)s not found") % {"task_id": task_id})
        policy = AlertPolicy(task=task, department_id=task.department_id, scope_key=f"task:{task.pk}")
    else:
        require_permission(user, "department:manage")  # before the scope check: 4003, not 4001
        dept_id = require_department_in_scope(user, department_id, field="department_id")
        policy = AlertPolicy(task=None, department_id=dept_id, scope_key=f"department:{dept_id}")
    policy.creator = user
    changes = _apply(policy, spec)
    _check_complete(policy)
    existing = AlertPolicy.objects.filter(scope_key=policy.scope_key).values_list("pk", flat=True).first()
    if existing is not None:
        what = (gettext("task %(id)s") % {"id": task_id} if task_id is not None
                else gettext("department %(id)s") % {"id": policy.department_id})
        raise errors.Conflict(gettext("%(what)s already has an alert policy (id %(existing)s); edit that one")
                              % {"what": what, "existing": existing})
    try:
        with transaction.atomic():
            policy.save(force_insert=True)
    except IntegrityError:
        raise errors.Conflict(gettext("an alert policy for this scope was just created; edit that one")) from None
    audit_record(actor=actor, action="alert_policy.create", object_type="alert_policy", object_id=policy.pk,
                 object_repr=policy.scope_key, department_id=policy.department_id, changes=changes)
    return policy


def _policy_for_write(actor: Actor, policy_id: int) -> AlertPolicy:
    from apps.alerts.selectors import policies_in_scope

    policy = get_in_scope(policies_in_scope(actor.user, "task:update").select_related("task"),
                          policy_id, "alert policy")
    if policy.task_id is not None and policy.department_id != policy.task.department_id:
        # a row left behind by a move before policies followed their task: it belongs where the task is
        policy.department_id = policy.task.department_id
    if policy.task_id is None:
        require_permission(actor.user, "department:manage")
    return policy


@transaction.atomic
def policy_update(*, actor: Actor, policy_id: int, spec: PolicySpec) -> AlertPolicy:
    """Set the fields ``spec`` gives (the others keep their value); a policy does not move."""
    spec = spec.checked(create=False)  # a policy does not move: task_id/department_id are unknown fields here
    policy = _policy_for_write(actor, policy_id)
    changes = _apply(policy, spec)
    _check_complete(policy)
    policy.save()
    audit_record(actor=actor, action="alert_policy.update", object_type="alert_policy", object_id=policy.pk,
                 object_repr=policy.scope_key, department_id=policy.department_id, changes=changes)
    return policy


@transaction.atomic
def policy_delete(*, actor: Actor, policy_id: int) -> None:
    policy = _policy_for_write(actor, policy_id)
    audit_record(actor=actor, action="alert_policy.delete", object_type="alert_policy", object_id=policy.pk,
                 object_repr=policy.scope_key, department_id=policy.department_id)
    policy.delete()


#: Test alerts one user may send per minute (``POST /alert-policies/{id}/test``); more answer 4029.
TEST_ALERTS_PER_MINUTE = 5
#: Test alerts being delivered at once in one web/gRPC process; more answer 4029 at once.
TEST_CONCURRENCY = 4
#: Seconds a test delivery may take per channel (webhook, SMTP), whatever ``alerts.webhookTimeout`` says: the
#: test runs on the request thread, which must not be held long (issue 16, finding 15).
TEST_TIMEOUT = 3.0

_test_slots = threading.BoundedSemaphore(TEST_CONCURRENCY)


def _throttle_test(user_id: int) -> None:
    """A fixed one-minute window per user, keyed by the window's number (so a cache that resets a key's TTL on
    every increment cannot stretch it). 4029 with ``Retry-After`` = seconds to the next window."""
    now = time.time()
    window = int(now // 60)
    key = f"alerttest:{user_id}:{window}"
    cache.add(key, 0, 120)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, 120)
        count = 1
    if count > TEST_ALERTS_PER_MINUTE:
        retry_after = max(1, int((window + 1) * 60 - now + 0.999))
        raise errors.TooManyRequests(gettext("too many test alerts: at most %(test_alerts_per_minute)s a minute per "
                                             "user; try again in %(retry_after)s s")
                                     % {"test_alerts_per_minute": TEST_ALERTS_PER_MINUTE, "retry_after": retry_after},
                                     retry_after=retry_after)


def policy_test(*, actor: Actor, policy_id: int) -> Alert:
    """Send a test alert on the policy's channels now and record it. Runs on the caller's thread, so it is
    bounded: :data:`TEST_ALERTS_PER_MINUTE` per user, :data:`TEST_CONCURRENCY` at once per process, and
    :data:`TEST_TIMEOUT` seconds per channel."""
    _policy_for_write(actor, policy_id)  # 4003/4004 before any counting
    _throttle_test(actor.user.pk)
    if not _test_slots.acquire(blocking=False):
        raise errors.TooManyRequests(gettext("%(test_concurrency)s test alerts are being sent right now; try again "
                                             "in a few seconds")
                                     % {"test_concurrency": TEST_CONCURRENCY}, retry_after=int(TEST_TIMEOUT) + 1)
    try:
        with transaction.atomic():
            policy = _policy_for_write(actor, policy_id)
            task = policy.task
            alert = Alert.objects.create(
                department_id=policy.department_id, policy_id=policy.pk, task_id=task.pk if task else None,
                task_name=task.name if task else "", kind=AlertKind.TEST,
                dedup_key=f"test:{policy.pk}:{uuid.uuid4().hex}",
                message=f"Test alert of alert policy #{policy.pk} ({policy.scope_key}), sent by {actor.user.username}",
                node="api")
            audit_record(actor=actor, action="alert_policy.test", object_type="alert_policy", object_id=policy.pk,
                         object_repr=policy.scope_key, department_id=policy.department_id)
        channels = Channels.of(policy)
        payload = build_payload(alert, task={"id": task.pk, "name": task.name, "department_id": task.department_id}
                                if task else None)
        deliveries = asyncio.run(deliver(channels, payload, http=None, timeout=TEST_TIMEOUT))
        return close_alert(alert.pk, deliveries)
    finally:
        _test_slots.release()


def department_defaults(parents: dict[int, int | None], defaults: dict[int, Any]) -> dict[int, Any]:
    """For every department (``parents``: id -> parent id), the default policy that applies to its tasks: its
    own, else the nearest ancestor's. Each department is resolved once, top-down, so the cost is linear in the
    number of departments at any depth (a walk up from each one cost O(depth^2) on a deep chain)."""
    children: dict[int | None, list[int]] = {}
    for dept_id, parent_id in parents.items():
        children.setdefault(parent_id if parent_id in parents else None, []).append(dept_id)
    resolved: dict[int, Any] = {}
    stack: list[tuple[int, Any]] = [(dept_id, None) for dept_id in children.get(None, ())]
    while stack:
        dept_id, inherited = stack.pop()
        if dept_id in resolved:  # a corrupted cycle must not loop forever
            continue
        own = defaults.get(dept_id, inherited)
        resolved[dept_id] = own
        stack.extend((child, own) for child in children.get(dept_id, ()))
    return {dept_id: policy for dept_id, policy in resolved.items() if policy is not None}


# --- what scheduler nodes watch ------------------------------------------------------------------

@dataclass(frozen=True)
class PolicySnapshot:
    """The part of a policy a node needs on its hot path (no channels, no secret)."""

    id: int
    enabled: bool
    on_failure: bool
    consecutive_failures: int
    overrun_seconds: int | None
    lag_seconds: int | None

    @property
    def watches_failures(self) -> bool:
        return self.enabled and (self.on_failure or self.consecutive_failures > 0)


def load_policies() -> tuple[dict[int, PolicySnapshot], dict[int, PolicySnapshot]]:
    """(by task id, by department id): a task's own policy, and for every department the default that
    applies to its tasks (its own, else the nearest ancestor's). Disabled policies are kept: they mute."""
    rows = list(AlertPolicy.objects.values("id", "department_id", "task_id", "enabled", "on_failure",
                                           "consecutive_failures", "overrun_seconds", "lag_seconds"))
    by_task: dict[int, PolicySnapshot] = {}
    defaults: dict[int, PolicySnapshot] = {}
    for row in rows:
        snap = PolicySnapshot(id=row["id"], enabled=row["enabled"], on_failure=row["on_failure"],
                              consecutive_failures=row["consecutive_failures"],
                              overrun_seconds=row["overrun_seconds"], lag_seconds=row["lag_seconds"])
        if row["task_id"] is not None:
            by_task[row["task_id"]] = snap
        else:
            defaults[row["department_id"]] = snap
    by_department: dict[int, PolicySnapshot] = {}
    if defaults:
        by_department = department_defaults(dict(Department.objects.values_list("id", "parent_id")), defaults)
    return by_task, by_department


@dataclass
class AlertEvent:
    """Something a node saw that may become an alert."""

    kind: str                      # failure | overrun | lag
    policy_id: int
    task: dict[str, Any]           # id, name, department_id
    record_id: int
    year: int
    month: int
    trigger: str
    scheduled: datetime
    started: datetime | None = None
    status: int | None = None
    error: str | None = None
    status_code: int | None = None
    retry_times: int = 0
    seconds: float = 0.0           # lag or running time
    node: str = ""


@dataclass(frozen=True)
class Channels:
    webhook_url: str | None
    webhook_secret: str | None
    emails: tuple[str, ...] = field(default=())

    @classmethod
    def of(cls, policy: AlertPolicy) -> "Channels":
        return cls(policy.webhook_url or None, policy.webhook_secret or None, tuple(policy.emails or ()))


# The finished statuses a streak is made of: success breaks it, failed and lost extend it.
STREAK_STATUSES = (RecordStatus.SUCCESS, RecordStatus.FAILED, RecordStatus.LOST)


def failure_streak(task_id: int, year: int, month: int, record_id: int, limit: int) -> int:
    """Failures in a row of the task up to and including ``record_id`` (finished runs, newest first;
    skipped and killed runs neither break nor extend a streak), looking at most ``limit`` runs back.

    One query per counted status, each an ordered walk of the month table's (task_id, status) index (whose
    entries end with the id) that stops after ``limit`` rows: the cost is bounded by ``limit``, not by how
    many runs the task has. A single ``status IN (...) ORDER BY id DESC`` would sort every run of the task
    (the index gives id order only within one status)."""
    runs: list[tuple[int, int]] = []  # (id, status) of the newest runs, this month first
    tables = existing_record_tables()
    y, m, first = year, month, True
    for _ in range(3):  # this month and the two before
        if table_name(y, m) in tables:
            found: list[tuple[int, int]] = []
            for status in STREAK_STATUSES:
                qs = record_model(y, m).objects.filter(task_id=task_id, status=status)
                if first:
                    qs = qs.filter(id__lte=record_id)
                found += [(pk, status) for pk in qs.order_by("-id").values_list("id", flat=True)[:limit - len(runs)]]
            runs += sorted(found, reverse=True)[:limit - len(runs)]
        if len(runs) >= limit:
            break
        y, m, first = (y, m - 1, False) if m > 1 else (y - 1, 12, False)
    streak = 0
    for _, status in runs:
        if status == RecordStatus.SUCCESS:
            break
        streak += 1
    return streak


def _pause_task(task_id: int, streak: int, node: str) -> bool:
    now = timezone.now()
    task = Task.objects.filter(pk=task_id).values("name", "department_id", "status").first()
    if task is None or not Task.objects.filter(pk=task_id, status__in=[TaskStatus.ENABLED, TaskStatus.ONE_SHOT]).update(
            status=TaskStatus.DISABLED, next_execute_time=None, version=F("version") + 1,
            revision=F("revision") + 1, update_time=now):
        return False
    audit_record(actor=None, action="task.autopause", object_type="task", object_id=task_id,
                 object_repr=task["name"], department_id=task["department_id"], username="system",
                 ip="", via="scheduler",
                 changes={"status": {"old": task["status"], "new": int(TaskStatus.DISABLED)},
                          "reason": f"{streak} consecutive failures (alert policy autoPause, node {node})"})
    return True


def _message(event: AlertEvent, kind: str, policy: AlertPolicy, paused: bool) -> str:
    name = event.task["name"]
    if kind == AlertKind.CONSECUTIVE:
        text = f"Task {name} failed {policy.consecutive_failures} times in a row"
        if event.error:
            text += f"; last error: {event.error}"
        return text + ("; the task was disabled (autoPause)" if paused else "")
    if kind == AlertKind.FAILURE:
        n = event.retry_times
        retries = f" after {n} retr{'y' if n == 1 else 'ies'}" if n else ""
        return f"Task {name} failed{retries}: {event.error or 'no error text'}"
    if kind == AlertKind.OVERRUN:
        return f"Task {name} has been running for {event.seconds:.0f} s (limit {policy.overrun_seconds} s)"
    return f"Task {name} started {event.seconds:.1f} s after its scheduled time (limit {policy.lag_seconds} s)"


def open_alert(event: AlertEvent) -> tuple[Alert, Channels, dict[str, Any]] | None:
    """Decide whether the event becomes an alert; if so store it (status sending) and return it with its
    channels and webhook payload. Runs on a node's alerts thread."""
    now = timezone.now()
    with transaction.atomic():
        policy = AlertPolicy.objects.select_for_update().filter(pk=event.policy_id, enabled=True).first()
        if policy is None:
            return None
        kind, paused = event.kind, False
        if kind == AlertKind.FAILURE:
            n = policy.consecutive_failures
            if n and failure_streak(event.task["id"], event.year, event.month, event.record_id, n + 1) == n:
                kind = AlertKind.CONSECUTIVE
                if policy.auto_pause:
                    paused = _pause_task(event.task["id"], n, event.node)  # also when the alert is suppressed
            elif not policy.on_failure:
                return None
        elif kind == AlertKind.OVERRUN and not policy.overrun_seconds:
            return None
        elif kind == AlertKind.LAG and not policy.lag_seconds:
            return None
        month = event.year * 100 + event.month
        dedup_key = f"{kind}:{month}:{event.record_id}"
        if Alert.objects.filter(dedup_key=dedup_key).exists():
            return None
        cooldown = policy.cooldown_seconds
        if cooldown is None:
            cooldown = settings.DJS_ALERTS.cooldown
        if cooldown > 0:
            last = (Alert.objects.filter(task_id=event.task["id"], kind=kind,
                                         create_time__gte=now - timedelta(seconds=cooldown))
                    .order_by("-id").values_list("pk", flat=True).first())
            if last is not None:
                return _suppress(last, kind)
        cap = settings.DJS_ALERTS.max_per_minute
        if cap > 0:
            recent = list(Alert.objects.filter(department_id=event.task["department_id"],
                                               create_time__gte=now - timedelta(seconds=60))
                          .exclude(kind=AlertKind.TEST).order_by("-id").values_list("pk", flat=True)[:cap])
            if len(recent) >= cap:
                return _suppress(recent[0], kind)
        previous = (Alert.objects.filter(task_id=event.task["id"], kind=kind).order_by("-id")
                    .values_list("suppressed", flat=True).first()) or 0
        try:
            with transaction.atomic():
                alert = Alert.objects.create(
                    department_id=event.task["department_id"], policy_id=policy.pk, task_id=event.task["id"],
                    task_name=event.task["name"][:255], kind=kind, record_id=event.record_id, record_month=month,
                    message=_message(event, kind, policy, paused)[:4000], dedup_key=dedup_key, node=event.node[:100])
        except IntegrityError:
            return None  # another node opened the same alert a moment ago
    payload = build_payload(alert, task=event.task, event=event, policy=policy, paused=paused,
                            suppressed=previous)
    return alert, Channels.of(policy), payload


def _suppress(alert_id: int, kind: str) -> None:
    Alert.objects.filter(pk=alert_id).update(suppressed=F("suppressed") + 1)
    metrics.alerts_suppressed.labels(kind).inc()
    return None


def build_payload(alert: Alert, *, task: dict[str, Any] | None, event: AlertEvent | None = None,
                  policy: AlertPolicy | None = None, paused: bool = False, suppressed: int = 0) -> dict[str, Any]:
    """The webhook body (also the source of the e-mail text)."""
    payload: dict[str, Any] = {
        "id": alert.pk, "kind": alert.kind, "message": alert.message,
        "time": alert.create_time.isoformat(), "departmentId": alert.department_id, "policyId": alert.policy_id,
        "task": {"id": task["id"], "name": task["name"], "departmentId": task["department_id"]} if task else None,
        "record": None, "suppressed": suppressed, "taskPaused": paused,
    }
    if event is not None:
        record: dict[str, Any] = {
            "id": event.record_id, "year": event.year, "month": event.month, "triggerType": str(event.trigger),
            "scheduledTime": event.scheduled.isoformat(),
            "startTime": event.started.isoformat() if event.started else None,
            "status": RecordStatus(event.status).name.lower() if event.status is not None else "running",
            "statusCode": event.status_code, "error": event.error, "retryTimes": event.retry_times,
        }
        base = settings.DJS_ALERTS.console_url
        if base:
            record["url"] = (f"{base.rstrip('/')}/records?year={event.year}&month={event.month}"
                             f"&recordId={event.record_id}")
        payload["record"] = record
        if alert.kind in (AlertKind.OVERRUN, AlertKind.LAG):
            payload["seconds"] = round(event.seconds, 3)
            payload["threshold"] = policy.overrun_seconds if alert.kind == AlertKind.OVERRUN else policy.lag_seconds
    return payload


async def deliver(channels: Channels, payload: dict[str, Any], http=None,
                  timeout: float | None = None) -> list[dict[str, Any]]:
    """Send on every channel; each outcome is one ``deliveries`` entry. ``http``: the node's HTTP executor
    (None: a short-lived one, for the web process's test endpoint). ``timeout``: at most this many seconds per
    channel (None: ``alerts.webhookTimeout`` and ``alerts.smtp.timeout``)."""
    deliveries: list[dict[str, Any]] = []
    if channels.webhook_url:
        own = http is None
        if own:
            from apps.tasks.executors.http import HttpExecutor
            from djs_platform.egress import EgressPolicy

            http = HttpExecutor(1, EgressPolicy.of(settings.DJS_EGRESS))
            await http.start()
        try:
            deliveries.append(await delivery.send_webhook(http, channels.webhook_url, channels.webhook_secret,
                                                          payload, timeout=timeout))
        finally:
            if own:
                await http.close()
    if channels.emails:
        deliveries.append(await asyncio.to_thread(delivery.send_email, list(channels.emails), payload,
                                                  timeout=timeout))
    return deliveries


def close_alert(alert_id: int, deliveries: list[dict[str, Any]]) -> Alert:
    oks = [d["ok"] for d in deliveries]
    status = AlertStatus.SENT if oks and all(oks) else AlertStatus.FAILED if not any(oks) else AlertStatus.PARTIAL
    Alert.objects.filter(pk=alert_id).update(status=status, deliveries=deliveries, update_time=timezone.now())
    alert = Alert.objects.get(pk=alert_id)
    metrics.alerts.labels(alert.kind, status).inc()
    if status != AlertStatus.SENT:
        log.warning("alert %s (%s, task %s): %s", alert.pk, alert.kind, alert.task_id,
                    "; ".join(f"{d['channel']}: {d['error']}" for d in deliveries if not d["ok"]) or "no channel")
    return alert


def move_task_policy(sender, *, task, **_) -> None:
    """``tasks.signals.task_moved``: a task's own alert policy moves with the task (issue 16, finding 6a), so the
    old department's users lose it and the new department's users get it (reads scope it through the task too).
    Runs inside the transaction of the task's update."""
    AlertPolicy.objects.filter(task_id=task.pk).exclude(department_id=task.department_id).update(
        department_id=task.department_id)


def prune_alerts_before(cutoff: datetime) -> int:
    """Record retention's step for alerts (registered in ``AlertsConfig.ready``): delete the alerts created
    before ``cutoff``, the first instant of the oldest month whose records are kept."""
    deleted, _ = Alert.objects.filter(create_time__lt=cutoff).delete()
    return deleted
