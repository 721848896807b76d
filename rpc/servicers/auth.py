"""``auth.AuthService``: login, token checks and permissions through the services REST uses."""
from __future__ import annotations

from django.conf import settings
from django.utils.translation import gettext as _

from apps.accounts import selectors, services
from apps.accounts.api.serializers import LoginInput
from djs_platform import errors, tokens
from djs_platform.envelope import validation_error
from djs_platform.tenancy import permission_codes
from rpc.generated import auth_pb2 as pb
from rpc.generated import auth_pb2_grpc
from rpc.interceptors import client_address, current_actor, user_agent
from rpc.servicers.common import optional_id


def user_info(user) -> pb.UserInfo:
    return pb.UserInfo(user_id=user.pk, username=user.username, real_name=user.real_name,
                       department_id=user.department_id, department_name=user.department.name,
                       role_id=user.role_id, role_name=user.role.name)


class AuthServicer(auth_pb2_grpc.AuthServiceServicer):
    def Authenticate(self, request, context):
        """Callable without a token (like ValidateToken and RefreshToken). Same checks, throttling and audit as
        ``POST /auth/login``."""
        serializer = LoginInput(data={"username": request.username, "password": request.password})
        if not serializer.is_valid():
            raise validation_error(serializer.errors)
        user, pair = services.auth_login(username=serializer.validated_data["username"],
                                         password=serializer.validated_data["password"],
                                         ip=client_address(context), user_agent=user_agent(context), via="grpc")
        return pb.AuthenticateResponse(success=True, access_token=pair.access, refresh_token=pair.refresh,
                                       user_info=user_info(user), message="login successful",
                                       expires_in=pair.expires_in)

    def ValidateToken(self, request, context):
        """Whether the token in the request is a live access token; an invalid one is an answer
        (``valid=false``), not an error. Public (no ``authorization`` metadata; the seed's client sends none): the
        rate limits are per client address (``auth.validatePerAddressPerMinute``, before anything is decoded) and
        per user the token names (``auth.validatePerUserPerMinute``, once its signature holds): RESOURCE_EXHAUSTED
        with ``retry-after``. Only those and a failing revocation store (UNAVAILABLE) fail the call."""
        conf = settings.DJS_AUTH
        tokens.throttle(f"rate:validate:ip:{client_address(context)}", conf.validate_per_address_per_minute,
                        60, "too many token validations from this address; retry later")
        try:
            token = tokens.decode_access_token(request.token)
            subject = tokens.user_id_of(token)
            tokens.throttle(f"rate:validate:u:{subject}", conf.validate_per_user_per_minute, 60,
                            "too many token validations for this user; retry later")
            user = tokens.authenticate_decoded(token)
        except errors.Unauthenticated as exc:
            return pb.ValidateTokenResponse(valid=False, user_id=0, message=str(exc.message))
        return pb.ValidateTokenResponse(valid=True, user_id=user.pk, message="token valid")

    def RefreshToken(self, request, context):
        """Public (the token is in the request). A refresh token rotates the pair, as ``POST /auth/refresh
        {refreshToken}`` does (single use; a reused one revokes its whole login family). An access token is
        exchanged once for a new one of the same family, as ``POST /auth/refresh`` with only the Bearer header
        does (``refresh_token`` of the answer is empty; a second exchange revokes the family). Expired,
        revoked or forged: UNAUTHENTICATED; empty: INVALID_ARGUMENT."""
        if not request.refresh_token:
            raise errors.invalid("refresh_token", _("required"))
        ip = client_address(context)
        if tokens.claimed_type(request.refresh_token) == "access":
            _user, grant = tokens.refresh_access(request.refresh_token, ip=ip)
            return pb.RefreshTokenResponse(success=True, access_token=grant.access, refresh_token="",
                                           message="access token renewed", expires_in=grant.expires_in)
        _user, pair = tokens.refresh_pair(request.refresh_token, ip=ip)
        return pb.RefreshTokenResponse(success=True, access_token=pair.access, refresh_token=pair.refresh,
                                       message="token refreshed", expires_in=pair.expires_in)

    def GetUserPermissions(self, request, context):
        """Your own codes always (``user_id`` 0 or yours); another user's need ``user:manage`` over them."""
        actor = current_actor()
        user_id = optional_id("user_id", request.user_id) or actor.user.pk
        target = selectors.user_get(user=actor.user, user_id=user_id)
        return pb.UserPermissionsResponse(success=True, permissions=sorted(permission_codes(target)),
                                          message=f"permissions of {target.username}")
