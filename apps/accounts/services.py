"""Writes for accounts: login, users, roles, passwords, personal API tokens. The audit trail every write leaves is
:mod:`apps.accounts.audit` (``audit_record``, ``camel`` and ``diff`` are re-exported here for older imports)."""
from __future__ import annotations

import hashlib
import logging
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.accounts.audit import audit_record, camel, diff  # noqa: F401 - camel re-exported
from apps.accounts.models import (
    API_TOKEN_DISPLAY_LENGTH,
    API_TOKEN_PREFIX,
    ApiToken,
    Permission,
    Role,
    User,
    normalize_username,
    username_key,
    username_problem,
)
from apps.accounts.selectors import api_token_owner
from apps.departments.models import Department
from djs_platform import errors, tokens
from djs_platform.actor import Actor
from djs_platform.tenancy import (
    get_in_scope,
    permission_codes,
    require_department_in_scope,
    require_permission,
)

log = logging.getLogger("djs.accounts")


# --- login & tokens ---------------------------------------------------------------------------

def _throttle_login(key: str, ip: str) -> None:
    """Per address: N attempts a minute. Per login name (``username_key``, whether such a user exists or not,
    so a lockout reveals nothing): locked for ``auth.loginLockoutSeconds`` after M failures (4029). Windows
    are exact (:mod:`djs_platform.token_state`); ``Retry-After`` is what is left of them."""
    conf = settings.DJS_AUTH
    tokens.throttle(f"login:ip:{ip}", conf.login_rate_per_minute, 60,
                    "too many login attempts from this address; retry in a minute")
    failures = tokens.store_get(f"login:fail:{key}")
    if failures is not None and failures.value >= conf.login_max_failures:
        raise errors.TooManyRequests(_("account temporarily locked after repeated failed logins"),
                                     retry_after=failures.remaining())


def _login_failed(key: str) -> None:
    """Count a failure; the one that reaches the limit starts a lockout of exactly loginLockoutSeconds."""
    conf = settings.DJS_AUTH
    name = f"login:fail:{key}"
    failures = tokens.store_incr(name, conf.login_lockout_seconds)
    if failures is not None and failures.value >= conf.login_max_failures:
        tokens.store_set(name, failures.value, conf.login_lockout_seconds)


def auth_login(*, username: str, password: str, ip: str, user_agent: str = "", via: str = "rest") -> tuple[User, tokens.TokenPair]:
    """Log in by ``username_key`` (case and Unicode compatibility forms folded, accents kept, compared byte for
    byte on every backend)."""
    key = username_key(username)
    _throttle_login(key, ip)
    user = User.objects.select_related("department", "role").filter(username_key=key).first()
    if user is None:
        User().set_password(password)  # same hashing cost as a real check: no username oracle by timing
        ok = False
    else:
        ok = user.check_password(password)
    if not ok:
        _login_failed(key)
        # Attempts on unknown names (password spraying) are filed under the top department, where the
        # platform's administrators see them.
        department_id = user.department_id if user else Department.objects.filter(
            parent__isnull=True).order_by("id").values_list("id", flat=True).first()
        audit_record(actor=None, action="auth.login_failed", object_type="user", object_id=user.pk if user else None,
                     object_repr=username, department_id=department_id, username=username, ip=ip, via=via)
        raise errors.Unauthenticated(_("invalid username or password"))
    tokens.require_usable_account(user)  # disabled account or department: 4010, only after the right password
    tokens.store_delete(f"login:fail:{key}")
    pair = tokens.issue_pair(user)
    audit_record(actor=Actor(user=user, ip=ip, user_agent=user_agent, via=via), action="auth.login",
                 object_type="user", object_id=user.pk, object_repr=user.username, department_id=user.department_id)
    return user, pair


def auth_logout(*, actor: Actor, family: str | None) -> None:
    tokens.revoke_user_tokens(actor.user.pk)
    if family:
        tokens.revoke_family(family)
    audit_record(actor=actor, action="auth.logout", object_type="user", object_id=actor.user.pk,
                 object_repr=actor.user.username, department_id=actor.user.department_id)


# --- roles ------------------------------------------------------------------------------------

def _resolve_permissions(permission_ids: list[int]) -> list[Permission]:
    ids = sorted(set(permission_ids))
    found = list(Permission.objects.filter(id__in=ids))
    missing = sorted(set(ids) - {p.id for p in found})
    if missing:
        raise errors.invalid("permissions", _("unknown permission ids: %(missing)s") % {"missing": missing})
    return found


def _require_can_grant(actor: Actor, codes: set[str] | frozenset[str], what: str) -> None:
    """Nobody grants what they do not hold themselves."""
    beyond = sorted(set(codes) - permission_codes(actor.user))
    if beyond:
        raise errors.Forbidden(_("cannot %(what)s: it grants permissions you do not hold: %(beyond)s")
                               % {"what": what, "beyond": ", ".join(beyond)})


def _require_can_grant_shell(actor: Actor, old_codes: set[str], new_codes: set[str]) -> None:
    """``task:shell`` runs commands on the scheduler hosts: adding it to a role also needs ``system:manage``
    (docs/security.md, finding 2)."""
    if "task:shell" in new_codes - old_codes and "system:manage" not in permission_codes(actor.user):
        raise errors.Forbidden(_("granting task:shell requires system:manage"))


def role_codes(role: Role) -> set[str]:
    return set(role.permissions.values_list("code", flat=True))


@transaction.atomic
def role_create(*, actor: Actor, name: str, description: str | None, permission_ids: list[int], status: int) -> Role:
    require_permission(actor.user, "role:manage")
    perms = _resolve_permissions(permission_ids)
    _require_can_grant(actor, {p.code for p in perms}, _("create this role"))
    _require_can_grant_shell(actor, set(), {p.code for p in perms})
    if Role.objects.filter(name=name).exists():
        raise errors.AlreadyExists(_("role name '%(name)s' already exists") % {"name": name})
    try:
        with transaction.atomic():
            role = Role.objects.create(name=name, description=description, status=status)
    except IntegrityError:
        raise errors.AlreadyExists(_("role name '%(name)s' already exists") % {"name": name}) from None
    role.permissions.set(perms)
    audit_record(actor=actor, action="role.create", object_type="role", object_id=role.pk, object_repr=role.name,
                 changes={"name": name, "status": status, "permissions": sorted(p.code for p in perms)})
    return role


def _role_for_update(actor: Actor, role_id: int) -> Role:
    require_permission(actor.user, "role:manage")
    role = get_in_scope(Role.objects.select_for_update(), role_id, "role")
    _require_can_grant(actor, role_codes(role), _("modify this role"))
    return role


@transaction.atomic
def role_update(*, actor: Actor, role_id: int, name: str, description: str | None, permission_ids: list[int],
                status: int) -> Role:
    role = _role_for_update(actor, role_id)
    perms = _resolve_permissions(permission_ids)
    new_codes = {p.code for p in perms}
    _require_can_grant(actor, new_codes, _("update this role"))
    _require_can_grant_shell(actor, role_codes(role), new_codes)
    if Role.objects.filter(name=name).exclude(pk=role.pk).exists():
        raise errors.AlreadyExists(_("role name '%(name)s' already exists") % {"name": name})
    if role.pk == actor.user.role_id and (status != 1 or not permission_codes(actor.user) <= new_codes):
        raise errors.Conflict(_("you cannot disable or reduce your own role"))
    changes = diff(role, {"name": name, "description": description, "status": status})
    old_codes = role_codes(role)
    if old_codes != new_codes:
        changes["permissions"] = {"old": sorted(old_codes), "new": sorted(new_codes)}
    role.name, role.description, role.status = name, description, status
    role.save()
    role.permissions.set(perms)
    audit_record(actor=actor, action="role.update", object_type="role", object_id=role.pk, object_repr=role.name,
                 changes=changes)
    return role


@transaction.atomic
def role_delete(*, actor: Actor, role_id: int) -> None:
    role = _role_for_update(actor, role_id)
    holders = role.users.count()
    if holders:
        raise errors.Conflict(_("role is assigned to %(holders)s user(s); reassign them first")
                              % {"holders": holders})
    audit_record(actor=actor, action="role.delete", object_type="role", object_id=role.pk, object_repr=role.name)
    role.delete()


# --- users ------------------------------------------------------------------------------------

def _validate_password(password: str, user: User, field: str = "password") -> None:
    try:
        password_validation.validate_password(password, user)
    except DjangoValidationError as exc:
        raise errors.InvalidArgument(_("%(field)s: %(message)s") % {"field": field, "message": exc.messages[0]},
                                     fields={field: list(exc.messages)}) from None


def _clean_username(username: str) -> str:
    """The stored (NFKC) form of a new username, or 4001 on ``username`` (:func:`username_problem`, the rule
    REST, gRPC, commands and bootstrap share)."""
    problem = username_problem(username)
    if problem:
        raise errors.invalid("username", problem)
    return normalize_username(username)


def _resolve_role(actor: Actor, role_id: int) -> Role:
    role = Role.objects.filter(pk=role_id).first()
    if role is None:
        raise errors.invalid("roleId", _("role %(role_id)s not found") % {"role_id": role_id})
    _require_can_grant(actor, role_codes(role), _("assign this role"))
    return role


def _managed_user(actor: Actor, user_id: int, *, lock: bool = False) -> User:
    """A user the actor may manage: in scope (else 4004) and not more privileged (else 4003)."""
    qs = User.objects.restrict(actor.user, "user:manage")
    if lock:
        qs = qs.select_for_update()
    target = get_in_scope(qs, user_id, "user")
    if target.pk != actor.user.pk:
        _require_can_grant(actor, role_codes(target.role), _("manage this user"))
    return target


@transaction.atomic
def user_create(*, actor: Actor, username: str, password: str, real_name: str, email: str | None,
                phone: str | None, department_id: int, role_id: int, status: int) -> User:
    require_permission(actor.user, "user:manage")
    require_department_in_scope(actor.user, department_id)
    role = _resolve_role(actor, role_id)
    given, username = username, _clean_username(username)
    user = User(username=username, real_name=real_name, email=email, phone=phone,
                department_id=department_id, role=role, status=status)
    _validate_password(password, user)
    if User.objects.filter(username_key=username_key(username)).exists():
        raise errors.AlreadyExists(_("username '%(given)s' already exists") % {"given": given})
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:
        raise errors.AlreadyExists(_("username '%(given)s' already exists") % {"given": given}) from None
    audit_record(actor=actor, action="user.create", object_type="user", object_id=user.pk, object_repr=username,
                 department_id=department_id,
                 changes={"username": username, "departmentId": department_id, "roleId": role_id, "status": status})
    return user


@transaction.atomic
def user_update(*, actor: Actor, user_id: int, username: str, real_name: str, email: str | None, phone: str | None,
                department_id: int, role_id: int, status: int, password: str | None = None) -> User:
    target = _managed_user(actor, user_id, lock=True)
    given, username = username, normalize_username(username)
    if username != target.username:  # an unchanged name stays valid, whatever rule held when it was made
        username = _clean_username(username)
    if password and target.pk == actor.user.pk:
        # Own password changes must prove the old one (PATCH /users/{id}/password).
        raise errors.invalid("password", _("change your own password with PATCH /users/{id}/password"))
    if department_id != target.department_id:
        require_department_in_scope(actor.user, department_id)
    if role_id != target.role_id:
        if target.pk == actor.user.pk:
            raise errors.Conflict(_("you cannot change your own role"))
        _resolve_role(actor, role_id)
    if target.pk == actor.user.pk and status != 1:
        raise errors.Conflict(_("you cannot disable your own account"))
    if User.objects.filter(username_key=username_key(username)).exclude(pk=target.pk).exists():
        raise errors.AlreadyExists(_("username '%(given)s' already exists") % {"given": given})
    values = {"username": username, "real_name": real_name, "email": email, "phone": phone,
              "department_id": department_id, "role_id": role_id, "status": status}
    changes = diff(target, values)
    for field, value in values.items():
        setattr(target, field, value)
    if password:
        _validate_password(password, target)
        target.set_password(password)
        changes["password"] = "changed"
    try:
        with transaction.atomic():
            target.save()
    except IntegrityError:
        raise errors.AlreadyExists(_("username '%(given)s' already exists") % {"given": given}) from None
    if {"password", "status", "roleId", "username"} & changes.keys():
        tokens.revoke_user_tokens(target.pk)
    if (status != 1 and "status" in changes) or "roleId" in changes:
        # API tokens die with the account's status or role (issue 19); not with a password or name change,
        # which a service account's sidecar could not follow.
        revoked = _revoke_api_tokens(target.pk)
        if revoked:
            changes["apiTokensRevoked"] = revoked
    audit_record(actor=actor, action="user.update", object_type="user", object_id=target.pk,
                 object_repr=target.username, department_id=target.department_id, changes=changes)
    return target


@transaction.atomic
def user_delete(*, actor: Actor, user_id: int) -> None:
    target = _managed_user(actor, user_id, lock=True)
    if target.pk == actor.user.pk:
        raise errors.Conflict(_("you cannot delete your own account"))
    audit_record(actor=actor, action="user.delete", object_type="user", object_id=target.pk,
                 object_repr=target.username, department_id=target.department_id)
    target.delete()
    tokens.revoke_user_tokens(user_id)


@transaction.atomic
def user_change_password(*, actor: Actor, user_id: int, old_password: str | None, new_password: str) -> User:
    """Own password: the old one is required. Someone else's: requires user:manage over them."""
    is_self = int(user_id) == actor.user.pk
    manages = "user:manage" in permission_codes(actor.user)
    if is_self and not manages:
        target = User.objects.select_for_update().get(pk=actor.user.pk)
    else:
        if not manages:
            raise errors.Forbidden(_("permission denied: requires user:manage"))
        target = _managed_user(actor, user_id, lock=True)
    if is_self or not manages:
        if not old_password or not target.check_password(old_password):
            raise errors.invalid("oldPassword", _("old password is incorrect"))
    _validate_password(new_password, target, field="newPassword")
    target.set_password(new_password)
    target.save(update_fields=["password", "update_time"])
    tokens.revoke_user_tokens(target.pk)
    audit_record(actor=actor, action="user.password", object_type="user", object_id=target.pk,
                 object_repr=target.username, department_id=target.department_id, changes={"password": "changed"})
    return target


# --- personal API tokens (issue 19, DESIGN §14.3) ------------------------------------------------------------

#: Longest lifetime a token may be given (``expiresInDays`` / ``expiresAt``); no expiry at all is allowed too.
API_TOKEN_MAX_DAYS = 3650
#: Live (neither revoked nor expired) tokens one user may hold at once.
API_TOKEN_MAX_ACTIVE = 50
#: ``last_used_at`` is written at most this often per token (one conditional UPDATE, whichever process wins).
API_TOKEN_TOUCH_INTERVAL = timedelta(minutes=1)
API_TOKEN_NAME_MAX_LENGTH = 100
#: ``djs_pat_`` and ``secrets.token_urlsafe(32)``: 43 characters of the URL-safe base64 alphabet.
_API_TOKEN_SHAPE = f"{API_TOKEN_PREFIX}[A-Za-z0-9_-]{{43}}"


@dataclass(frozen=True)
class ApiTokenSpec:
    """A new API token: its name and when it expires (None: never; revoking it is then the only end)."""

    name: str
    expires_at: datetime | None = None


@dataclass(frozen=True)
class IssuedApiToken:
    """A token just made and its secret, which exists only here: it is shown once and never stored."""

    token: ApiToken
    secret: str


def api_token_hash(raw: str) -> str:
    """What is stored of a token and looked up: the hex SHA-256 of the whole string."""
    return hashlib.sha256(raw.encode()).hexdigest()


def _clean_token_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise errors.invalid("name", _("must not be blank"))
    if len(name) > API_TOKEN_NAME_MAX_LENGTH:
        raise errors.invalid("name", _("at most %(n)s characters") % {"n": API_TOKEN_NAME_MAX_LENGTH})
    if any(unicodedata.category(char) in ("Cc", "Cf", "Cs") for char in name):
        raise errors.invalid("name", _("control and invisible format characters are not allowed"))
    return name


def _check_token_expiry(expires_at: datetime | None, now: datetime) -> None:
    if expires_at is None:
        return
    if timezone.is_naive(expires_at):
        raise errors.invalid("expiresAt", _("needs a time zone (e.g. 2027-01-31T00:00:00Z)"))
    if expires_at <= now:
        raise errors.invalid("expiresAt", _("must be in the future"))
    if expires_at > now + timedelta(days=API_TOKEN_MAX_DAYS):
        raise errors.invalid("expiresAt", _("at most %(n)s days from now") % {"n": API_TOKEN_MAX_DAYS})


def _revoke_api_tokens(user_id: int) -> int:
    """Revoke every live API token of a user (disable, role change); returns how many."""
    return ApiToken.objects.filter(user_id=user_id, revoked_at__isnull=True).update(revoked_at=timezone.now())


@transaction.atomic
def api_token_create(*, actor: Actor, user_id: int, spec: ApiTokenSpec) -> IssuedApiToken:
    """Make an API token for ``user_id``: the actor's own (no permission needed), or a user in the actor's
    ``user:manage`` scope whose role grants nothing the actor lacks (else 4003; outside the scope 4004).
    Refused for a disabled user (4009: the token would come alive when the account is enabled again) and beyond
    :data:`API_TOKEN_MAX_ACTIVE` live tokens (4009). The secret is in the answer only; the audit row has the
    name and display prefix."""
    now = timezone.now()
    name = _clean_token_name(spec.name)
    _check_token_expiry(spec.expires_at, now)
    owner = api_token_owner(user=actor.user, user_id=user_id)
    owner = User.objects.select_for_update().select_related("department").get(pk=owner.pk)  # vs. a disable
    if not owner.is_active:
        raise errors.Conflict(_("user %(name)s is disabled: enable the account first") % {"name": owner.username})
    live = ApiToken.objects.filter(user_id=owner.pk, revoked_at__isnull=True).filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=now)).count()
    if live >= API_TOKEN_MAX_ACTIVE:
        raise errors.Conflict(_("at most %(n)s live API tokens per user: revoke one first")
                              % {"n": API_TOKEN_MAX_ACTIVE})
    secret = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(user=owner, name=name, prefix=secret[:API_TOKEN_DISPLAY_LENGTH],
                                    token_hash=api_token_hash(secret), created_by=actor.user,
                                    expires_at=spec.expires_at)
    audit_record(actor=actor, action="user.token_create", object_type="api_token", object_id=token.pk,
                 object_repr=f"{owner.username}: {name}"[:255], department_id=owner.department_id,
                 changes={"userId": owner.pk, "name": name, "prefix": token.prefix,
                          "expiresAt": spec.expires_at.isoformat() if spec.expires_at else None})
    return IssuedApiToken(token=token, secret=secret)


@transaction.atomic
def api_token_revoke(*, actor: Actor, user_id: int, token_id: int) -> ApiToken:
    """Revoke one API token of ``user_id`` (who may: as :func:`api_token_create`); its next use answers 4010
    in every process. Revoking a revoked token changes nothing and answers it as it is."""
    owner = api_token_owner(user=actor.user, user_id=user_id)
    token = get_in_scope(ApiToken.objects.restrict(actor.user).select_for_update().filter(user_id=owner.pk),
                         token_id, "token")
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit_record(actor=actor, action="user.token_revoke", object_type="api_token", object_id=token.pk,
                     object_repr=f"{owner.username}: {token.name}"[:255], department_id=owner.department_id,
                     changes={"userId": owner.pk, "name": token.name, "prefix": token.prefix})
    return token


def api_token_authenticate(raw: str) -> tuple[User, ApiToken]:
    """The check of ``Authorization: Bearer djs_pat_...`` in REST and gRPC (registered with
    :func:`djs_platform.tokens.register_api_token_authenticator`). Security-relevant.

    One indexed query for the token (the unique hash) and the user as for a JWT (:func:`tokens.load_user`, keyed
    by the authz generation): a revocation, expiry, disable or role change counts from the very next request in
    every process. A malformed, unknown,
    revoked or expired token, or one of a disabled user or department: 4010. The user acts with their current
    role and department scope (read per request, as for a login). ``last_used_at`` is written at most once a
    minute per token."""
    if not isinstance(raw, str) or not re.fullmatch(_API_TOKEN_SHAPE, raw):
        raise errors.Unauthenticated(_("token invalid"))
    try:
        token = ApiToken.objects.get(token_hash=api_token_hash(raw))
    except ApiToken.DoesNotExist:
        raise errors.Unauthenticated(_("token invalid")) from None
    now = timezone.now()
    if token.revoked_at is not None:
        raise errors.Unauthenticated(_("token revoked"))
    if token.expires_at is not None and token.expires_at <= now:
        raise errors.Unauthenticated(_("token expired"))
    token.user = tokens.load_user(token.user_id)  # generation-keyed (apps/accounts/authz.py); usable, else 4010
    stale = now - API_TOKEN_TOUCH_INTERVAL
    if token.last_used_at is None or token.last_used_at <= stale:
        ApiToken.objects.filter(pk=token.pk).filter(Q(last_used_at__isnull=True) | Q(last_used_at__lte=stale)) \
            .update(last_used_at=now)
    return token.user, token
