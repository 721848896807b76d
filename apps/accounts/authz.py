"""What authentication loads per request, cached per process and keyed by (user id, authz generation).

An authenticated request needs its user with the department and role, the role's permission codes, the user's
department scope (the tree below their department) and whether the department and its ancestors are enabled:
three to five queries and about 2 ms of ORM work per request, the same answer thousands of times a minute. Here
a request reads one row (``authz_generation``, :class:`~apps.accounts.models.AuthzGeneration`); when the value
is the one its cache entry was filled under, the user is built from the cached row values with no other query.

The generation changes in the same transaction as any change that could alter an answer (signal receivers
below, connected in ``AccountsConfig.ready``): saving or deleting a user, role, permission, role-permission link
or department, and ``role.permissions`` add/remove/clear. So a commit anywhere (another process, another node)
is seen by the next request everywhere, as the revocation and tenancy contracts require. Writers that bypass
model signals (``QuerySet.update``, ``bulk_create``) must call :func:`bump_generation` themselves; none of the
services does today (``tests/test_authz_cache.py`` changes each kind of row and checks the next request).

Order matters for correctness: the generation is read *before* the rows, so an entry may hold rows newer than
its generation (harmless: the next generation reloads) but never older ones.
"""
from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from django.db import connections, router, transaction
from django.db.models.signals import m2m_changed, post_delete, post_save

from apps.accounts.models import AuthzGeneration, Permission, Role, RolePermission, User
from apps.departments.models import Department
from djs_platform.tenancy import descendants_of

#: The one row of ``authz_generation``.
GENERATION_ID = 1
#: Users remembered per process (least recently used first out); an entry is a few hundred bytes.
MAX_USERS = 4096


def _attnames(model: type) -> tuple[str, ...]:
    return tuple(field.attname for field in model._meta.concrete_fields)


_USER_FIELDS = _attnames(User)
_DEPARTMENT_FIELDS = _attnames(Department)
_ROLE_FIELDS = _attnames(Role)


@dataclass(frozen=True, slots=True)
class _Entry:
    generation: int
    user: tuple[Any, ...]
    department: tuple[Any, ...]
    role: tuple[Any, ...]
    permission_codes: frozenset[str]
    scope_ids: frozenset[int]
    usable: str | None


@dataclass(frozen=True, slots=True)
class _Tree:
    generation: int
    edges: tuple[tuple[int, int | None], ...]
    status: dict[int, int]


_lock = threading.Lock()
_users: OrderedDict[int, _Entry] = OrderedDict()
_tree: _Tree | None = None


def _alias() -> str:
    return router.db_for_read(AuthzGeneration) or "default"


def current_generation() -> int | None:
    """The committed generation, or None when the row is missing (a flushed test database): then nothing is
    cached. One primary-key read with a raw cursor (the ORM's compile step would cost more than the query)."""
    connection = connections[_alias()]
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {quote('value')} FROM {quote(AuthzGeneration._meta.db_table)} "
                       f"WHERE {quote('id')} = %s", [GENERATION_ID])
        row = cursor.fetchone()
    return None if row is None else int(row[0])


def bump_generation(**_signal: Any) -> None:
    """Give the generation a new value inside the current transaction (a signal receiver; callable directly)."""
    action = _signal.get("action")
    if action is not None and not str(action).startswith("post_"):  # m2m_changed: once, after the change
        return
    value = secrets.randbits(63)
    alias = router.db_for_write(AuthzGeneration) or "default"
    with transaction.atomic(using=alias):
        if not AuthzGeneration.objects.using(alias).filter(pk=GENERATION_ID).update(value=value):
            AuthzGeneration.objects.using(alias).update_or_create(pk=GENERATION_ID, defaults={"value": value})


def _department_tree(generation: int | None) -> _Tree:
    """Every department's (id, parent) and status, read once per generation per process."""
    global _tree
    tree = _tree
    if generation is not None and tree is not None and tree.generation == generation:
        return tree
    rows = list(Department.objects.values_list("id", "parent_id", "status"))
    tree = _Tree(generation if generation is not None else -1, tuple((pk, parent) for pk, parent, _ in rows),
                 {pk: status for pk, _, status in rows})
    if generation is not None:
        _tree = tree
    return tree


def _usable(user_status: int, department_id: int, tree: _Tree) -> str | None:
    """:meth:`User.is_usable` from the tree: ``"account"``, ``"department"`` or None."""
    if user_status != 1:
        return "account"
    parents = dict(tree.edges)
    seen: set[int] = set()
    current: int | None = department_id
    while current is not None and current not in seen:  # a corrupted cycle ends the walk
        if tree.status.get(current) != 1:
            return "department"
        seen.add(current)
        current = parents.get(current)
    return None


def _load(user_id: int, generation: int | None) -> _Entry:
    user = User.objects.select_related("department", "role").get(pk=user_id)  # DoesNotExist: the caller's 4010
    tree = _department_tree(generation)
    codes = frozenset(Permission.objects.filter(roles__id=user.role_id, roles__status=1, status=1)
                      .values_list("code", flat=True))
    return _Entry(
        generation=generation if generation is not None else -1,
        user=tuple(getattr(user, name) for name in _USER_FIELDS),
        department=tuple(getattr(user.department, name) for name in _DEPARTMENT_FIELDS),
        role=tuple(getattr(user.role, name) for name in _ROLE_FIELDS),
        permission_codes=codes,
        scope_ids=descendants_of(user.department_id, list(tree.edges)),
        usable=_usable(user.status, user.department_id, tree),
    )


def _build(entry: _Entry, alias: str) -> User:
    """A fresh ``User`` (its own instance per request: nothing a view sets leaks into another request)."""
    user = User.from_db(alias, list(_USER_FIELDS), list(entry.user))
    user.department = Department.from_db(alias, list(_DEPARTMENT_FIELDS), list(entry.department))
    user.role = Role.from_db(alias, list(_ROLE_FIELDS), list(entry.role))
    user.remember_authorization(scope_ids=entry.scope_ids, permission_codes=entry.permission_codes,
                                usable=entry.usable)
    return user


def load_user(user_id: int) -> User:
    """The user for a request (raises ``User.DoesNotExist``): from the process's cache when the generation has
    not changed since it was filled, else from the database (and cached)."""
    generation = current_generation()
    with _lock:
        entry = _users.get(user_id)
        if entry is not None:
            _users.move_to_end(user_id)
    if entry is None or generation is None or entry.generation != generation:
        entry = _load(user_id, generation)
        if generation is not None:
            with _lock:
                _users[user_id] = entry
                _users.move_to_end(user_id)
                while len(_users) > MAX_USERS:
                    _users.popitem(last=False)
    return _build(entry, _alias())


def clear() -> None:
    """Forget every entry (tests; never needed for correctness)."""
    global _tree
    with _lock:
        _users.clear()
        _tree = None


def connect_signals() -> None:
    """Bump the generation on every change that can alter an answer of :func:`load_user`."""
    for model in (User, Role, Permission, RolePermission, Department):
        post_save.connect(bump_generation, sender=model, dispatch_uid=f"authz-save-{model._meta.label}")
        post_delete.connect(bump_generation, sender=model, dispatch_uid=f"authz-delete-{model._meta.label}")
    m2m_changed.connect(bump_generation, sender=Role.permissions.through, dispatch_uid="authz-role-permissions")
