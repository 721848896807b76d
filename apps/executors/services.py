"""Writes to the executor registry: self-registration (the heartbeat) and operators' entries.

Every write checks the permission, keeps to the actor's department scope (a department outside it is 4001
"department N not found" in a body, an entry outside it 4004 like a missing one), checks the address against
the egress policy, and leaves an audit row, except a heartbeat that changes nothing but the heartbeat time (a
sidecar calls every few seconds; the audit log would be nothing else).
"""
from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.accounts.audit import audit_record, camel
from apps.executors.models import (
    DEFAULT_WEIGHT,
    Executor,
    ExecutorSource,
    ExecutorStatus,
)
from apps.executors.specs import (
    Deregistration,
    EntrySpec,
    Registration,
    egress_problem,
    is_dns,
    parse_address,
)
from djs_platform import errors, tokens
from djs_platform.actor import Actor
from djs_platform.inputs import MISSING, Invalid
from djs_platform.tenancy import (
    get_in_scope,
    require_department_in_scope,
    require_permission,
)


def _repr(entry: Executor) -> str:
    return f"{entry.kind} {entry.name} {entry.address}"


def _throttle(actor: Actor) -> None:
    """A flood of registrations from one user (one service account's token, or many) answers 4029."""
    limit = settings.DJS_EXECUTORS.register_per_user_per_minute
    tokens.throttle(f"rate:executor-register:u:{actor.user.pk}", limit, 60,
                    _("too many executor registrations: at most %(limit)s a minute per user "
                      "(executors.registerPerUserPerMinute)") % {"limit": limit})


def _department(actor: Actor, department_id: int | object) -> int:
    if department_id is MISSING:
        return actor.user.department_id
    return require_department_in_scope(actor.user, department_id, field="department_id")


def _check_egress(kind: str, address: str) -> None:
    problem = egress_problem(parse_address(kind, address))
    if problem:
        raise errors.invalid("address", problem)


def _now() -> datetime:
    return timezone.now()


# --- self-registration -----------------------------------------------------------------------------------

def executor_register(*, actor: Actor, spec: Registration) -> tuple[Executor, bool]:
    """Create or refresh the caller's entry (``executor:register``); the call is the heartbeat. Returns the
    entry and whether it was created. An operator's ``down`` stays down (draining survives heartbeats); a
    static or DNS entry with the same identity belongs to operators and is not taken over (4009)."""
    require_permission(actor.user, "executor:register")
    _throttle(actor)
    spec = spec.checked()
    department_id = _department(actor, spec.department_id)
    _check_egress(spec.kind, spec.address)
    identity = {"department_id": department_id, "kind": spec.kind, "name": spec.name, "address": spec.address}
    for _attempt in range(2):  # a concurrent first registration of the same identity: the second one updates
        try:
            with transaction.atomic():
                entry = Executor.objects.select_for_update().filter(**identity).first()
                if entry is None:
                    entry = Executor.objects.create(
                        **identity, source=ExecutorSource.SELF, status=ExecutorStatus.UP,
                        weight=DEFAULT_WEIGHT if spec.weight is MISSING else spec.weight,
                        ttl_seconds=spec.ttl_seconds, last_heartbeat=_now(), registered_by=actor.user)
                    audit_record(actor=actor, action="executor.register", object_type="executor", object_id=entry.pk,
                                 object_repr=_repr(entry), department_id=department_id,
                                 changes={"ttlSeconds": entry.ttl_seconds, "weight": entry.weight})
                    return entry, True
                if entry.source != ExecutorSource.SELF:
                    raise errors.Conflict(_("%(entry)s is a %(source)s entry managed by operators; a registration "
                                            "cannot take it over") % {"entry": _repr(entry), "source": entry.source})
                changes = {}
                if entry.ttl_seconds != spec.ttl_seconds:
                    changes["ttlSeconds"] = {"old": entry.ttl_seconds, "new": spec.ttl_seconds}
                    entry.ttl_seconds = spec.ttl_seconds
                if spec.weight is not MISSING and entry.weight != spec.weight:
                    changes["weight"] = {"old": entry.weight, "new": spec.weight}
                    entry.weight = spec.weight
                entry.last_heartbeat = _now()
                entry.registered_by = actor.user
                entry.save(update_fields=["ttl_seconds", "weight", "last_heartbeat", "registered_by", "update_time"])
                if changes:
                    audit_record(actor=actor, action="executor.register", object_type="executor", object_id=entry.pk,
                                 object_repr=_repr(entry), department_id=department_id, changes=changes)
                return entry, False
        except IntegrityError:
            continue
    raise errors.Conflict(_("the entry was being registered concurrently; try again"))


def executor_deregister(*, actor: Actor, spec: Deregistration) -> bool:
    """Remove the caller's entry (``executor:register``): no new calls go to it. Idempotent: an entry that is
    not there answers False. Operators' entries are not removed this way (4009)."""
    require_permission(actor.user, "executor:register")
    _throttle(actor)
    spec = spec.checked()
    department_id = _department(actor, spec.department_id)
    with transaction.atomic():
        entry = Executor.objects.select_for_update().filter(
            department_id=department_id, kind=spec.kind, name=spec.name, address=spec.address).first()
        if entry is None:
            return False
        if entry.source != ExecutorSource.SELF:
            raise errors.Conflict(_("%(entry)s is a %(source)s entry managed by operators; delete it with "
                                    "DELETE /executors/%(id)s") % {"entry": _repr(entry), "source": entry.source,
                                                                   "id": entry.pk})
        audit_record(actor=actor, action="executor.deregister", object_type="executor", object_id=entry.pk,
                     object_repr=_repr(entry), department_id=department_id)
        entry.delete()
    return True


# --- operators' entries ----------------------------------------------------------------------------------

def _source_of(address: str) -> str:
    return ExecutorSource.DNS if is_dns(address) else ExecutorSource.MANUAL


def _duplicate(entry: Executor) -> errors.Conflict:
    return errors.AlreadyExists(_("%(entry)s is already registered in this department") % {"entry": _repr(entry)})


@transaction.atomic
def executor_create(*, actor: Actor, spec: EntrySpec) -> Executor:
    """A static (``host:port``, base URL) or DNS (``dns:///``) entry (``executor:manage``)."""
    require_permission(actor.user, "executor:manage")
    spec = EntrySpec.from_values(spec.values(), create=True)
    department_id = require_department_in_scope(actor.user, spec.department_id, field="department_id")
    _check_egress(spec.kind, spec.address)
    entry = Executor(department_id=department_id, name=spec.name, kind=spec.kind, address=spec.address,
                     weight=DEFAULT_WEIGHT if spec.weight is MISSING else spec.weight,
                     status=ExecutorStatus.UP if spec.status is MISSING else spec.status,
                     source=_source_of(spec.address), registered_by=actor.user)
    if Executor.objects.filter(department_id=department_id, kind=entry.kind, name=entry.name,
                               address=entry.address).exists():
        raise _duplicate(entry)
    try:
        with transaction.atomic():
            entry.save(force_insert=True)
    except IntegrityError:
        raise _duplicate(entry) from None
    audit_record(actor=actor, action="executor.create", object_type="executor", object_id=entry.pk,
                 object_repr=_repr(entry), department_id=department_id,
                 changes={camel(k): v for k, v in spec.values().items()})
    return entry


def _entry_for_write(actor: Actor, executor_id: int) -> Executor:
    return get_in_scope(Executor.objects.restrict(actor.user, "executor:manage").select_for_update(), executor_id,
                        "executor")


@transaction.atomic
def executor_update(*, actor: Actor, executor_id: int, spec: EntrySpec) -> Executor:
    """Set the fields ``spec`` gives. A self-registered entry is its target's: an operator may change its
    ``status`` (``down`` drains it) and ``weight``, not its name, kind or address."""
    require_permission(actor.user, "executor:manage")
    spec = EntrySpec.from_values(spec.values(), create=False)
    entry = _entry_for_write(actor, executor_id)
    values = spec.values()
    if entry.source == ExecutorSource.SELF:
        fixed = sorted(k for k in ("name", "kind", "address") if k in values and values[k] != getattr(entry, k))
        if fixed:
            raise errors.invalid(fixed[0], _("a self-registered entry keeps the name, kind and address it registered "
                                            "with; change its status or weight, or deregister it"))
    kind = values.get("kind", entry.kind)
    address = values.get("address", entry.address)
    if "kind" in values or "address" in values:
        try:
            address = parse_address(kind, address).address
        except Invalid as exc:
            raise errors.InvalidArgument(_("%(field)s: %(message)s") % {"field": "address", "message": exc.messages[0]},
                                         fields={"address": exc.messages}) from None
        values["address"] = address
    changes = {}
    for field, new in values.items():
        if getattr(entry, field) != new:
            changes[camel(field)] = {"old": getattr(entry, field), "new": new}
            setattr(entry, field, new)
    if not changes:
        return entry
    if entry.source != ExecutorSource.SELF:
        entry.source = _source_of(entry.address)
    if changes.keys() & {"kind", "address"}:
        _check_egress(entry.kind, entry.address)
    if Executor.objects.filter(department_id=entry.department_id, kind=entry.kind, name=entry.name,
                               address=entry.address).exclude(pk=entry.pk).exists():
        raise _duplicate(entry)
    try:
        with transaction.atomic():
            entry.save()
    except IntegrityError:
        raise _duplicate(entry) from None
    audit_record(actor=actor, action="executor.update", object_type="executor", object_id=entry.pk,
                 object_repr=_repr(entry), department_id=entry.department_id, changes=changes)
    return entry


@transaction.atomic
def executor_delete(*, actor: Actor, executor_id: int) -> None:
    """Remove any entry (``executor:manage``); a self entry comes back with its target's next heartbeat."""
    entry = _entry_for_write(actor, executor_id)
    audit_record(actor=actor, action="executor.delete", object_type="executor", object_id=entry.pk,
                 object_repr=_repr(entry), department_id=entry.department_id)
    entry.delete()
