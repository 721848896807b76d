"""JWT access/refresh tokens with revocation through the token state store (:mod:`djs_platform.token_state`).

Claims are kept small: ``sub`` (user id), ``typ``, ``jti``, ``fid`` (login family), ``fxp`` (the family's end,
epoch seconds), ``iat`` (float, ms precision) and ``exp``. Revocation state lives in the token state store (Redis
with ``redis.url``, else the ``token_state`` table; never Django's database cache) so every process sees it at
once:

* ``rev:u:<user id>`` = epoch seconds; every token of that user issued at or before it is dead
  (logout, password change, disable, role change).
* ``rev:f:<family id>`` = 1; every token of one login family is dead (reuse of a refresh token or of an
  exchanged access token, logout).
* ``used:<jti>`` = 1; a refresh token is spent once, and an access token exchanged once (sliding refresh);
  presenting either again revokes its family.

Two ways to refresh (issue 18, DESIGN §14.4): *rotation* (:func:`refresh_pair`) spends a refresh token for a new
pair whose family end is ``auth.refreshExpireHours`` from now; the *sliding* exchange of the seed
(:func:`refresh_access`, ``POST /auth/refresh`` with only ``Authorization: Bearer <access token>``) spends an
access token for a new access token of the same family that never outlives the family's end (``fxp``).

``sub`` is a user id only in its canonical form (``"1"``, never ``"01"``, ``"+1"``, ``" 1"`` or the number 1):
anything else is "token invalid", so every lookup and revocation key uses the one spelling (issue 16).
A token is accepted only while its user is enabled and the user's department and every ancestor are enabled
("department disabled", 4010 / UNAUTHENTICATED, like a disabled account; issue 16).

When the store is unreachable, checks fail closed (503/5000) unless ``auth.revocationFailOpen``.

Personal API tokens (``djs_pat_...``, issue 19) are not JWTs: :func:`authenticate_bearer` hands them to the check the
accounts app registers (a row per token, revoked in that row; they need no token state store). Revoking a user's
JWTs (:func:`revoke_user_tokens`) does not touch them; the user services revoke them where the user is disabled or
gets another role.
"""
from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import jwt
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext as _
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken, Token

from djs_platform import errors, token_state

if TYPE_CHECKING:
    from django.contrib.auth.models import (
        AbstractBaseUser as User,  # AUTH_USER_MODEL; the platform names no app
    )

log = logging.getLogger("djs.auth")


@dataclass(frozen=True)
class TokenPair:
    access: str
    refresh: str
    expires_in: int


@dataclass(frozen=True)
class AccessGrant:
    """What a sliding refresh answers: one access token and its lifetime in seconds."""

    access: str
    expires_in: int


def _revocation_ttl() -> int:
    # After the longest token lifetime every older token has expired anyway.
    auth = settings.DJS_AUTH
    return int(max(auth.refresh_token_lifetime, auth.access_token_lifetime).total_seconds()) + 60


def _store_call(fn, *args: Any, default: Any = None) -> Any:
    try:
        return fn(*args)
    except errors.ApplicationError:
        raise
    except ImproperlyConfigured as exc:  # an evicting Redis: never fail open on a misconfiguration
        raise errors.ServiceUnavailable(_("token revocation store refused: %(exc)s") % {"exc": exc}) from exc
    except Exception as exc:  # noqa: BLE001 - any backend failure means "store unavailable"
        if settings.DJS_AUTH.revocation_fail_open:
            log.warning("revocation store unavailable, failing open: %s", exc)
            return default
        log.error("revocation store unavailable, refusing tokens: %s", exc)
        raise errors.ServiceUnavailable(_("token revocation store unavailable, please retry")) from exc


def store_get(key: str) -> "token_state.Entry | None":
    return _store_call(token_state.store().get, key, default=None)


def store_incr(key: str, ttl: float) -> "token_state.Entry | None":
    return _store_call(token_state.store().incr, key, ttl, default=None)


def store_set(key: str, value: float, ttl: float) -> None:
    _store_call(token_state.store().set, key, value, ttl)


def store_delete(key: str) -> None:
    _store_call(token_state.store().delete, key)


def throttle(key: str, limit: int, window: float, message: str) -> None:
    """Count one hit of ``key`` in its fixed window; beyond ``limit`` hits: 4029 with the window's remainder
    as ``Retry-After``. A limit of 0 or less turns the check off."""
    if limit <= 0:
        return
    entry = _store_call(token_state.store().incr, key, window, default=None)
    if entry is not None and entry.value > limit:
        raise errors.TooManyRequests(message, retry_after=entry.remaining())


def _stamp(token: Token, user_id: int, family: str, now: float, family_end: int, expires: int) -> None:
    token["sub"] = str(user_id)
    token["fid"] = family
    token["fxp"] = family_end
    token["iat"] = round(now, 3)
    token["exp"] = expires


def issue_pair(user: "User", family: str | None = None) -> TokenPair:
    """A new pair: at login (a new family) or by rotation. The family's end (``fxp``) is the refresh token's
    expiry, ``auth.refreshExpireHours`` from now: no sliding refresh of its access tokens reaches past it."""
    now = time.time()
    family = family or uuid.uuid4().hex
    access_seconds = int(settings.DJS_AUTH.access_token_lifetime.total_seconds())
    family_end = int(now + settings.DJS_AUTH.refresh_token_lifetime.total_seconds())
    refresh = RefreshToken()
    _stamp(refresh, user.pk, family, now, family_end, family_end)
    access = AccessToken()
    _stamp(access, user.pk, family, now, family_end, int(now + access_seconds))
    return TokenPair(access=str(access), refresh=str(refresh), expires_in=access_seconds)


def _decode(raw: str, token_class: type[Token]) -> Token:
    if not isinstance(raw, str) or not raw or len(raw) > 4096:
        raise errors.Unauthenticated(_("token invalid"))
    try:
        return token_class(raw)
    except TokenError as exc:
        expired = "expired" in str(exc).lower()
        raise errors.Unauthenticated(_("token expired") if expired else _("token invalid")) from None


_CANONICAL_ID = re.compile(r"[1-9][0-9]{0,18}")


def user_id_of(payload: Token) -> int:
    """The user id in ``sub``, accepted only in its canonical spelling; anything else is "token invalid"."""
    sub = payload.get("sub")
    if not isinstance(sub, str) or not _CANONICAL_ID.fullmatch(sub) or int(sub) > 2**63 - 1:
        raise errors.Unauthenticated(_("token invalid"))
    return int(sub)


def _check_not_revoked(payload: Token) -> None:
    keys = [f"rev:u:{user_id_of(payload)}", f"rev:f:{payload.get('fid')}"]
    found = _store_call(token_state.store().get_many, keys, default={}) or {}
    user_cut = found.get(keys[0])
    if keys[1] in found or (user_cut is not None and float(payload.get("iat", 0)) <= float(user_cut.value)):
        raise errors.Unauthenticated(_("token revoked"))


def require_usable_account(user: "User") -> None:
    """Refuse a disabled account, or an account whose department (or an ancestor) is disabled: 4010."""
    problem = user.is_usable()
    if problem == "account":
        raise errors.Unauthenticated(_("account disabled"))
    if problem is not None:
        raise errors.Unauthenticated(_("department disabled"))


#: ``(user id) -> user`` with department and role, raising ``DoesNotExist``; the accounts app registers its
#: generation-keyed cache (:func:`apps.accounts.authz.load_user`), so this platform module names no app module.
_user_loader: Callable[[int], "User"] | None = None


def register_user_loader(load: Callable[[int], "User"]) -> None:
    global _user_loader
    _user_loader = load


def load_user(user_id: int) -> "User":
    """The user of a verified credential, usable (enabled, in an enabled department below enabled ancestors),
    else 4010."""
    User = get_user_model()  # noqa: N806 - the model class, named as Django names it
    try:
        if _user_loader is not None:
            user = _user_loader(user_id)
        else:
            user = User.objects.select_related("department", "role").get(pk=user_id)
    except User.DoesNotExist:
        raise errors.Unauthenticated(_("token invalid")) from None
    require_usable_account(user)
    return user


def _load_user(payload: Token) -> "User":
    return load_user(user_id_of(payload))


def decode_access_token(raw: str) -> Token:
    """Signature, expiry and type of an access token (4010 otherwise); not yet revocation or its user."""
    return _decode(raw, AccessToken)


def authenticate_decoded(token: Token) -> "User":
    """The rest of :func:`authenticate_access_token` for a decoded token: revocation, then the user."""
    _check_not_revoked(token)
    return _load_user(token)


def authenticate_access_token(raw: str) -> tuple["User", Token]:
    """Validate an access token (signature, expiry, type, canonical ``sub``, revocation) and load its user,
    who must be enabled, in an enabled department below enabled ancestors."""
    token = decode_access_token(raw)
    return authenticate_decoded(token), token


# --- API tokens (issue 19): the accounts app registers how they are checked ----------------------------------

#: Every personal API token starts with this (``djs_pat_<43 URL-safe characters>``); a JWT never does.
API_TOKEN_PREFIX = "djs_pat_"

#: ``(raw token) -> (user, token row)``, registered by the accounts app (``AccountsConfig.ready``), so this
#: platform module names no app model for them.
_api_token_authenticator: Callable[[str], tuple["User", Any]] | None = None


def register_api_token_authenticator(check: Callable[[str], tuple["User", Any]]) -> None:
    """Install the check of ``djs_pat_`` tokens (:func:`apps.accounts.services.api_token_authenticate`)."""
    global _api_token_authenticator
    _api_token_authenticator = check


def is_api_token(raw: str) -> bool:
    return isinstance(raw, str) and raw.startswith(API_TOKEN_PREFIX)


def authenticate_bearer(raw: str) -> tuple["User", Any]:
    """The one check of a Bearer credential, for REST and gRPC alike: a personal API token (``djs_pat_...``:
    one indexed lookup of its hash; revoked, expired, or of a disabled user or department -> 4010) or an access
    token (:func:`authenticate_access_token`). The second item is the token row or the decoded JWT."""
    if is_api_token(raw):
        if _api_token_authenticator is None:  # the accounts app is not loaded: nothing can vouch for it
            raise errors.Unauthenticated(_("token invalid"))
        return _api_token_authenticator(raw)
    return authenticate_access_token(raw)


def refresh_pair(raw_refresh: str, *, ip: str = "") -> tuple["User", TokenPair]:
    """Rotate: spend the refresh token and issue a new pair in the same family.

    A refresh token presented a second time means it leaked (or a client raced): the whole family
    is revoked, so the thief's and the owner's tokens both stop working. Rate-limited per client address
    (before the token is even decoded) and per user (``auth.refreshPerAddressPerMinute``,
    ``auth.refreshPerUserPerMinute``); a refused call does not spend the token.
    """
    token, user_id, user = _presented_for_refresh(raw_refresh, RefreshToken, ip)
    _spend_once(token, user_id, kind="refresh token",
                reuse_message="refresh token already used; session revoked")
    return user, issue_pair(user, family=token["fid"])


def _presented_for_refresh(raw: str, kind: type[Token], ip: str) -> tuple[Token, int, "User"]:
    """The refresh rate limits (per address before decoding, per user after), then a live, unrevoked token of
    ``kind`` and its user; a refused call spends nothing."""
    conf = settings.DJS_AUTH
    throttle(f"rate:refresh:ip:{ip}", conf.refresh_per_address_per_minute, 60,
             "too many token refreshes from this address; retry later")
    token = _decode(raw, kind)
    user_id = user_id_of(token)
    throttle(f"rate:refresh:u:{user_id}", conf.refresh_per_user_per_minute, 60,
             "too many token refreshes for this user; retry later")
    _check_not_revoked(token)
    return token, user_id, _load_user(token)


def family_end(token: Token) -> float:
    """When the token's login family ends (``fxp``). A token issued before families recorded their end counts
    ``auth.refreshExpireHours`` from its own issue, the longest its family could then have lived unrotated."""
    end = token.get("fxp")
    if isinstance(end, int) and not isinstance(end, bool):
        return float(end)
    return float(token.get("iat", 0)) + settings.DJS_AUTH.refresh_token_lifetime.total_seconds()


def _spend_once(token: Token, user_id: int, *, kind: str, reuse_message: str) -> None:
    """Mark the token's ``jti`` used; a second presentation means a copy exists: revoke the whole family."""
    # The mark lives as long as the token could still be presented.
    ttl = max(60.0, float(token["exp"]) - time.time() + 60)
    first_use = _store_call(token_state.store().add, f"used:{token['jti']}", 1, ttl, default=True)
    if not first_use:
        _store_call(token_state.store().set, f"rev:f:{token['fid']}", 1, _revocation_ttl())
        log.warning("%s reuse for user %s: family %s revoked", kind, user_id, token["fid"])
        raise errors.Unauthenticated(reuse_message)


def refresh_access(raw_access: str, *, ip: str = "") -> tuple["User", AccessGrant]:
    """Sliding refresh (the seed's ``POST /auth/refresh`` with only ``Authorization: Bearer <access token>``):
    exchange a live access token for a new one in the same login family.

    Each access token is exchanged once; presenting it again means a copy is in other hands, so the whole family
    (its refresh token included) is revoked, as for a reused refresh token. The exchanged token itself stays
    valid until its own ``exp`` (requests in flight with it do not fail). The new token lives
    ``auth.jwtExpireHours``, never past the family's end (``fxp``): after that only a login (or a rotation
    with the refresh token) continues. A refresh token here, a revoked, expired or forged token: 4010. The
    rate limits of :func:`refresh_pair` apply, with the same counters; a refused call spends nothing.
    """
    token, user_id, user = _presented_for_refresh(raw_access, AccessToken, ip)
    now = time.time()
    end = family_end(token)
    if end <= now:
        raise errors.Unauthenticated(_("session expired: log in again"))
    family = token.get("fid")
    if not isinstance(family, str) or not family:
        raise errors.Unauthenticated(_("token invalid"))
    _spend_once(token, user_id, kind="access token",
                reuse_message="access token already exchanged; session revoked")
    lifetime = int(settings.DJS_AUTH.access_token_lifetime.total_seconds())
    if now + lifetime <= end:
        expires, expires_in = int(now + lifetime), lifetime
    else:  # capped: the family ends first
        expires, expires_in = int(end), max(1, int(end - now))
    access = AccessToken()
    _stamp(access, user.pk, family, now, int(end), expires)
    return user, AccessGrant(access=str(access), expires_in=expires_in)


def claimed_type(raw: str) -> str | None:
    """The ``typ`` a token *claims*, read without checking anything: only to choose which check to run
    (gRPC RefreshToken takes either kind in one field). Never a reason to trust the token."""
    if not isinstance(raw, str) or not raw or len(raw) > 4096:
        return None
    try:
        typ = jwt.decode(raw, options={"verify_signature": False}).get("typ")
    except jwt.PyJWTError:
        return None
    return typ if isinstance(typ, str) else None


def revoke_user_tokens(user_id: int) -> None:
    """Every token of the user issued up to now fails on its next use, in every process."""
    # +1 ms so a token minted in this very millisecond is covered; a login afterwards is not.
    _store_call(token_state.store().set, f"rev:u:{int(user_id)}", round(time.time() + 0.001, 3), _revocation_ttl())


def revoke_family(family: str) -> None:
    _store_call(token_state.store().set, f"rev:f:{family}", 1, _revocation_ttl())
