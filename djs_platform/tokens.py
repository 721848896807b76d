"""JWT access/refresh tokens with revocation through the shared cache (Redis in production).

Claims are kept small: ``sub`` (user id), ``typ``, ``jti``, ``fid`` (login family), ``iat`` (float, ms
precision) and ``exp``. Revocation state lives in the cache so every process sees it at once:

* ``rev:u:<user id>`` = epoch seconds; every token of that user issued at or before it is dead
  (logout, password change, disable, role change).
* ``rev:f:<family id>`` = 1; every token of one login family is dead (refresh-token reuse).
* ``used:<refresh jti>`` = 1; a refresh token is spent once; presenting it again revokes its family.

When the cache is unreachable, checks fail closed (503/5000) unless ``auth.revocationFailOpen``.
"""
from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.cache import cache
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken, Token

from djs_platform import errors

if TYPE_CHECKING:
    from apps.accounts.models import User

log = logging.getLogger("djs.auth")


@dataclass(frozen=True)
class TokenPair:
    access: str
    refresh: str
    expires_in: int


def _revocation_ttl() -> int:
    # After the longest token lifetime every older token has expired anyway.
    return int(max(settings.REFRESH_TOKEN_LIFETIME, settings.ACCESS_TOKEN_LIFETIME).total_seconds()) + 60


def _cache_call(fn, *args: Any, default: Any = None) -> Any:
    try:
        return fn(*args)
    except Exception as exc:  # noqa: BLE001 - any backend failure means "store unavailable"
        if settings.AUTH_SETTINGS["revocation_fail_open"]:
            log.warning("revocation store unavailable, failing open: %s", exc)
            return default
        log.error("revocation store unavailable, refusing tokens: %s", exc)
        raise errors.ServiceUnavailable("token revocation store unavailable, please retry") from exc


def _stamp(token: Token, user_id: int, family: str, now: float) -> None:
    token["sub"] = str(user_id)
    token["fid"] = family
    token["iat"] = round(now, 3)


def issue_pair(user: "User", family: str | None = None) -> TokenPair:
    now = time.time()
    family = family or uuid.uuid4().hex
    refresh = RefreshToken()
    _stamp(refresh, user.pk, family, now)
    access = AccessToken()
    _stamp(access, user.pk, family, now)
    return TokenPair(
        access=str(access),
        refresh=str(refresh),
        expires_in=int(settings.ACCESS_TOKEN_LIFETIME.total_seconds()),
    )


def _decode(raw: str, token_class: type[Token]) -> Token:
    if not isinstance(raw, str) or not raw or len(raw) > 4096:
        raise errors.Unauthenticated("token invalid")
    try:
        return token_class(raw)
    except TokenError as exc:
        expired = "expired" in str(exc).lower()
        raise errors.Unauthenticated("token expired" if expired else "token invalid") from None


def _check_not_revoked(payload: Token) -> None:
    keys = [f"rev:u:{payload['sub']}", f"rev:f:{payload.get('fid')}"]
    found = _cache_call(cache.get_many, keys, default={}) or {}
    user_cut = found.get(keys[0])
    if keys[1] in found or (user_cut is not None and float(payload.get("iat", 0)) <= float(user_cut)):
        raise errors.Unauthenticated("token revoked")


def _load_user(payload: Token) -> "User":
    from apps.accounts.models import User

    try:
        user = User.objects.select_related("department", "role").get(pk=int(payload["sub"]))
    except (User.DoesNotExist, ValueError, KeyError):
        raise errors.Unauthenticated("token invalid") from None
    if not user.is_active:
        raise errors.Unauthenticated("account disabled")
    return user


def authenticate_access_token(raw: str) -> tuple["User", Token]:
    """Validate an access token (signature, expiry, type, revocation) and load its active user."""
    token = _decode(raw, AccessToken)
    _check_not_revoked(token)
    return _load_user(token), token


def refresh_pair(raw_refresh: str) -> tuple["User", TokenPair]:
    """Rotate: spend the refresh token and issue a new pair in the same family.

    A refresh token presented a second time means it leaked (or a client raced): the whole family
    is revoked, so the thief's and the owner's tokens both stop working.
    """
    token = _decode(raw_refresh, RefreshToken)
    _check_not_revoked(token)
    first_use = _cache_call(cache.add, f"used:{token['jti']}", 1, _revocation_ttl(), default=True)
    if not first_use:
        _cache_call(cache.set, f"rev:f:{token['fid']}", 1, _revocation_ttl())
        log.warning("refresh token reuse for user %s: family %s revoked", token["sub"], token["fid"])
        raise errors.Unauthenticated("refresh token already used; session revoked")
    user = _load_user(token)
    return user, issue_pair(user, family=token["fid"])


def revoke_user_tokens(user_id: int) -> None:
    """Every token of the user issued up to now fails on its next use, in every process."""
    # +1 ms so a token minted in this very millisecond is covered; a login afterwards is not.
    _cache_call(cache.set, f"rev:u:{user_id}", round(time.time() + 0.001, 3), _revocation_ttl())


def revoke_family(family: str) -> None:
    _cache_call(cache.set, f"rev:f:{family}", 1, _revocation_ttl())
