"""DRF authentication: ``Authorization: Bearer <access token>``."""
from __future__ import annotations

from rest_framework.authentication import BaseAuthentication

from djs_platform import errors
from djs_platform.tokens import authenticate_access_token

KEYWORD = "Bearer"


def bearer_token(header: str) -> str:
    """The token of an ``Authorization: Bearer <token>`` header; anything else is 4010."""
    parts = header.split()
    if len(parts) != 2 or parts[0] != KEYWORD:
        raise errors.Unauthenticated("malformed Authorization header: use 'Bearer <token>'")
    return parts[1]


class JWTAuthentication(BaseAuthentication):
    keyword = KEYWORD

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        user, token = authenticate_access_token(bearer_token(header))
        return user, token

    def authenticate_header(self, request) -> str:
        return f'{self.keyword} realm="djs"'
