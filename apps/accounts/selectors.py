"""Reads for accounts, always within the actor's scope and permissions."""
from __future__ import annotations

from datetime import datetime

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from apps.accounts.models import ApiToken, AuditLog, Permission, Role, User, username_key
from djs_platform import errors
from djs_platform.tenancy import get_in_scope, has_permission, permission_codes, require_permission


def user_list(*, user: User, department_id: int | None = None, keyword: str | None = None,
              status: int | None = None, role_id: int | None = None) -> QuerySet[User]:
    qs = User.objects.restrict(user, "user:manage").select_related("department", "role")
    if department_id is not None:
        qs = qs.filter(department_id=department_id)
    if keyword:
        # Names match as login matches them: on the folded key (username itself is compared byte for byte).
        qs = qs.filter(Q(username_key__contains=username_key(keyword)) | Q(real_name__icontains=keyword))
    if status is not None:
        qs = qs.filter(status=status)
    if role_id is not None:
        qs = qs.filter(role_id=role_id)
    return qs.order_by("id")


def user_get(*, user: User, user_id: int) -> User:
    if int(user_id) == user.pk:
        return User.objects.select_related("department", "role").get(pk=user.pk)
    return get_in_scope(User.objects.restrict(user, "user:manage").select_related("department", "role"),
                        user_id, "user")


def _require_role_reader(user: User) -> None:
    # Whoever assigns roles to users must be able to read them.
    if not (has_permission(user, "role:manage") or has_permission(user, "user:manage")):
        raise errors.Forbidden(_("permission denied: requires role:manage or user:manage"))


def role_list(*, user: User, keyword: str | None = None, status: int | None = None) -> QuerySet[Role]:
    _require_role_reader(user)
    qs = Role.objects.prefetch_related("permissions")
    if keyword:
        qs = qs.filter(name__icontains=keyword)
    if status is not None:
        qs = qs.filter(status=status)
    return qs.order_by("id")


def role_get(*, user: User, role_id: int) -> Role:
    _require_role_reader(user)
    return get_in_scope(Role.objects.prefetch_related("permissions"), role_id, "role")


def permission_list() -> QuerySet[Permission]:
    return Permission.objects.order_by("id")


def audit_log_list(*, user: User, user_id: int | None = None, action: str | None = None,
                   object_type: str | None = None, object_id: str | None = None,
                   start: datetime | None = None, end: datetime | None = None) -> QuerySet[AuditLog]:
    require_permission(user, "system:manage")
    qs = AuditLog.objects.restrict(user)
    if user_id is not None:
        qs = qs.filter(user_id=user_id)
    if action:
        qs = qs.filter(action=action)
    if object_type:
        qs = qs.filter(object_type=object_type)
    if object_id:
        qs = qs.filter(object_id=object_id)
    if start:
        qs = qs.filter(create_time__gte=start)
    if end:
        qs = qs.filter(create_time__lt=end)
    return qs.order_by("-id")


def api_token_owner(*, user: User, user_id: int) -> User:
    """Whose API tokens ``user`` may list, create and revoke (issue 19): their own (no permission needed), or those
    of a user in their ``user:manage`` scope (without the permission 4003, outside the scope 4004, as for any user
    detail) whose role grants nothing ``user`` lacks (else 4003: a token acts with every permission of its user, so
    minting one is managing that user)."""
    if int(user_id) == user.pk:
        return user
    target = get_in_scope(User.objects.restrict(user, "user:manage").select_related("department", "role"),
                          user_id, "user")
    beyond = sorted(set(target.role.permissions.values_list("code", flat=True)) - permission_codes(user))
    if beyond:
        raise errors.Forbidden(_("cannot manage the API tokens of this user: their role grants permissions you do "
                                 "not hold: %(codes)s") % {"codes": ", ".join(beyond)})
    return target


def api_token_list(*, user: User, user_id: int) -> QuerySet[ApiToken]:
    """The API tokens of ``user_id``, newest first, revoked and expired ones included (never their secret)."""
    owner = api_token_owner(user=user, user_id=user_id)
    return ApiToken.objects.restrict(user).filter(user_id=owner.pk).select_related("created_by").order_by("-id")
