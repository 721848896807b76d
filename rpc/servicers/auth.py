"""``auth.AuthService``: login, token checks and permissions through the services REST uses."""
from __future__ import annotations

from django.conf import settings

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
        """The only method callable without a token. Same checks, throttling and audit as ``POST /auth/login``."""
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
        (``valid=false``), not an error. Only a failing revocation store fails the call (UNAVAILABLE), and the
        rate limits per caller and per address (``auth.validatePerUserPerMinute``,
        ``auth.validatePerAddressPerMinute``: RESOURCE_EXHAUSTED with ``retry-after``)."""
        actor = current_actor()
        conf = settings.AUTH_SETTINGS
        tokens.throttle(f"rate:validate:u:{actor.user.pk}", conf["validate_per_user_per_minute"], 60,
                        "too many token validations for this user; retry later")
        tokens.throttle(f"rate:validate:ip:{actor.ip}", conf["validate_per_address_per_minute"], 60,
                        "too many token validations from this address; retry later")
        try:
            user, _ = tokens.authenticate_access_token(request.token)
        except errors.Unauthenticated as exc:
            return pb.ValidateTokenResponse(valid=False, user_id=0, message=exc.message)
        return pb.ValidateTokenResponse(valid=True, user_id=user.pk, message="token valid")

    def RefreshToken(self, request, context):
        """Rotate a refresh token (single use; a reused one revokes its whole login family), as REST does."""
        current_actor()
        if not request.refresh_token:
            raise errors.invalid("refresh_token", "required")
        _user, pair = tokens.refresh_pair(request.refresh_token, ip=client_address(context))
        return pb.RefreshTokenResponse(success=True, access_token=pair.access, refresh_token=pair.refresh,
                                       message="token refreshed", expires_in=pair.expires_in)

    def GetUserPermissions(self, request, context):
        """Your own codes always (``user_id`` 0 or yours); another user's need ``user:manage`` over them."""
        actor = current_actor()
        user_id = optional_id("user_id", request.user_id) or actor.user.pk
        target = selectors.user_get(user=actor.user, user_id=user_id)
        return pb.UserPermissionsResponse(success=True, permissions=sorted(permission_codes(target)),
                                          message=f"permissions of {target.username}")
