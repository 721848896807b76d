"""DRF authentication: ``Authorization: Bearer <access token>``."""
from __future__ import annotations

from rest_framework.authentication import BaseAuthentication

from djs_platform import errors
from djs_platform.tokens import authenticate_access_token


class JWTAuthentication(BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        parts = header.split()
        if len(parts) != 2 or parts[0] != self.keyword:
            raise errors.Unauthenticated("malformed Authorization header: use 'Bearer <token>'")
        user, token = authenticate_access_token(parts[1])
        return user, token

    def authenticate_header(self, request) -> str:
        return f'{self.keyword} realm="djs"'
