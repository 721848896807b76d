"""DRF authentication: ``Authorization: Bearer <access token>`` or ``Bearer djs_pat_...`` (a personal API token,
issue 19), both checked by :func:`djs_platform.tokens.authenticate_bearer`. ``request.auth`` is the decoded JWT,
or the API token's row."""
from __future__ import annotations

from django.utils.translation import gettext as _
from rest_framework.authentication import BaseAuthentication

from djs_platform import errors
from djs_platform.tokens import authenticate_bearer

KEYWORD = "Bearer"


def bearer_token(header: str) -> str:
    """The token of an ``Authorization: Bearer <token>`` header; anything else is 4010."""
    parts = header.split()
    if len(parts) != 2 or parts[0] != KEYWORD:
        raise errors.Unauthenticated(_("malformed Authorization header: use 'Bearer <token>'"))
    return parts[1]


class JWTAuthentication(BaseAuthentication):
    """Access tokens (JWT) and personal API tokens; the class keeps its name (settings, the OpenAPI extension)."""

    keyword = KEYWORD

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        return authenticate_bearer(bearer_token(header))

    def authenticate_header(self, request) -> str:
        return f'{self.keyword} realm="djs"'
