"""Thin REST views: validate input, call a service or selector, shape the output."""
from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

from apps.accounts import selectors, services
from apps.accounts.models import ApiToken
from apps.accounts.api import serializers as s
from djs_platform import errors
from djs_platform.actor import Actor, client_ip
from djs_platform.authentication import bearer_token
from djs_platform.envelope import ok, paginated, parse_query
from djs_platform.fields import parse_body
from djs_platform.schema import NO_DATA
from djs_platform.tokens import refresh_access, refresh_pair
from djs_platform.tenancy import permission_codes


def _user_info(user) -> dict:
    user.permissions = sorted(permission_codes(user))
    return s.UserInfoOutput(user).data


def _token_body(user, pair) -> dict:
    return {
        "token": pair.access,
        "refreshToken": pair.refresh,
        "expiresIn": pair.expires_in,
        "tokenType": "Bearer",
        "user": _user_info(user),
    }


class LoginView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(request=s.LoginInput, responses=s.TokenOutput, tags=["auth"], auth=[])
    def post(self, request):
        body = parse_body(s.LoginInput, request)
        user, pair = services.auth_login(
            username=body["username"], password=body["password"], ip=client_ip(request),
            user_agent=request.META.get("HTTP_USER_AGENT", "")[:255],
        )
        return ok(_token_body(user, pair))


class RefreshView(APIView):
    """Two contracts on one route (docs/api.md): ``{refreshToken}`` rotates the pair; no body (or ``{}``) with
    ``Authorization: Bearer <access token>`` exchanges that access token, once, for a new one (the seed's form)."""

    authentication_classes: list = []  # the header is read here: a sliding refresh spends it
    permission_classes = [AllowAny]

    @extend_schema(
        request=s.RefreshInput, tags=["auth"], auth=[{"bearerAuth": []}, {}],  # the header only for the seed form
        responses=s.RefreshOutput,
        description="`{refreshToken}`: rotation, answers a new pair. No body with `Authorization: Bearer <access "
                    "token>`: answers `{token, expiresIn}` in the same login family, each access token once.")
    def post(self, request):
        body = parse_body(s.RefreshInput, request)
        if "refreshToken" in body:
            user, pair = refresh_pair(body["refreshToken"], ip=client_ip(request))
            return ok(_token_body(user, pair))
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            raise errors.invalid("refreshToken", _("required, unless the request has no body and the header "
                                                 "Authorization: Bearer <access token>"))
        _user, grant = refresh_access(bearer_token(header), ip=client_ip(request))
        return ok({"token": grant.access, "expiresIn": grant.expires_in})


class LogoutView(APIView):
    @extend_schema(request=s.LogoutInput, responses=NO_DATA, tags=["auth"])
    def post(self, request):
        parse_body(s.LogoutInput, request)
        if isinstance(request.auth, ApiToken):  # a service account's token is no session to end (issue 19)
            raise errors.InvalidArgument(_("an API token is not a login session: revoke it with "
                                           "DELETE /v1/users/{id}/tokens/{tokenId}"))
        services.auth_logout(actor=Actor.from_request(request), family=request.auth.get("fid"))
        return ok(None)


class UserInfoView(APIView):
    @extend_schema(responses=s.UserInfoOutput, tags=["auth"])
    def get(self, request):
        return ok(_user_info(request.user))


class UserListView(APIView):
    @extend_schema(parameters=[s.UserQuery], responses=s.UserOutput(many=True), tags=["users"])
    def get(self, request):
        q = parse_query(s.UserQuery, request)
        qs = selectors.user_list(user=request.user, department_id=q.get("departmentId"), keyword=q.get("keyword"),
                                 status=q.get("status"), role_id=q.get("roleId"))
        return paginated(qs, q, s.UserOutput)

    @extend_schema(request=s.UserInput, responses=s.UserOutput, tags=["users"])
    def post(self, request):
        b = parse_body(s.UserInput, request)
        user = services.user_create(
            actor=Actor.from_request(request), username=b["username"], password=b["password"],
            real_name=b["realName"], email=b.get("email"), phone=b.get("phone"),
            department_id=b["departmentId"], role_id=b["roleId"], status=b["status"],
        )
        return ok(s.UserOutput(selectors.user_get(user=request.user, user_id=user.pk)).data)


class UserDetailView(APIView):
    @extend_schema(responses=s.UserOutput, tags=["users"])
    def get(self, request, pk: int):
        return ok(s.UserOutput(selectors.user_get(user=request.user, user_id=pk)).data)

    @extend_schema(request=s.UserUpdateInput, responses=s.UserOutput, tags=["users"])
    def put(self, request, pk: int):
        b = parse_body(s.UserUpdateInput, request)
        services.user_update(
            actor=Actor.from_request(request), user_id=pk, username=b["username"], real_name=b["realName"],
            email=b.get("email"), phone=b.get("phone"), department_id=b["departmentId"], role_id=b["roleId"],
            status=b["status"], password=b.get("password") or None,
        )
        return ok(s.UserOutput(selectors.user_get(user=request.user, user_id=pk)).data)

    @extend_schema(responses=NO_DATA, tags=["users"])
    def delete(self, request, pk: int):
        services.user_delete(actor=Actor.from_request(request), user_id=pk)
        return ok(None)


class UserPasswordView(APIView):
    @extend_schema(request=s.PasswordInput, responses=NO_DATA, tags=["users"])
    def patch(self, request, pk: int):
        b = parse_body(s.PasswordInput, request)
        services.user_change_password(actor=Actor.from_request(request), user_id=pk,
                                      old_password=b.get("oldPassword") or None, new_password=b["newPassword"])
        return ok(None)


class UserTokenListView(APIView):
    """A user's personal API tokens (issue 19): your own, or with ``user:manage`` those of a user in your scope."""

    @extend_schema(parameters=[s.ApiTokenQuery], responses=s.ApiTokenOutput(many=True), tags=["users"])
    def get(self, request, pk: int):
        q = parse_query(s.ApiTokenQuery, request)
        return paginated(selectors.api_token_list(user=request.user, user_id=pk), q, s.ApiTokenOutput)

    @extend_schema(request=s.ApiTokenInput, responses=s.ApiTokenCreatedOutput, tags=["users"],
                   description="Answers the token's secret (`token`) this once; only its SHA-256 is kept.")
    def post(self, request, pk: int):
        b = parse_body(s.ApiTokenInput, request)
        expires_at = b.get("expiresAt")
        if b.get("expiresInDays") is not None:
            expires_at = timezone.now() + timedelta(days=b["expiresInDays"])
        issued = services.api_token_create(actor=Actor.from_request(request), user_id=pk,
                                           spec=services.ApiTokenSpec(name=b["name"], expires_at=expires_at))
        return ok({**s.ApiTokenOutput(issued.token).data, "token": issued.secret})


class UserTokenDetailView(APIView):
    @extend_schema(responses=s.ApiTokenOutput, tags=["users"],
                   description="Revokes the token (its next use answers 4010); answers it with `revokedAt`.")
    def delete(self, request, pk: int, token_id: int):
        token = services.api_token_revoke(actor=Actor.from_request(request), user_id=pk, token_id=token_id)
        return ok(s.ApiTokenOutput(token).data)


class RoleListView(APIView):
    @extend_schema(parameters=[s.RoleQuery], responses=s.RoleOutput(many=True), tags=["roles"])
    def get(self, request):
        q = parse_query(s.RoleQuery, request)
        return paginated(selectors.role_list(user=request.user, keyword=q.get("keyword"), status=q.get("status")),
                         q, s.RoleOutput)

    @extend_schema(request=s.RoleInput, responses=s.RoleOutput, tags=["roles"])
    def post(self, request):
        b = parse_body(s.RoleInput, request)
        role = services.role_create(actor=Actor.from_request(request), name=b["name"],
                                    description=b.get("description"), permission_ids=b["permissions"],
                                    status=b["status"])
        return ok(s.RoleOutput(selectors.role_get(user=request.user, role_id=role.pk)).data)


class RoleDetailView(APIView):
    @extend_schema(responses=s.RoleOutput, tags=["roles"])
    def get(self, request, pk: int):
        return ok(s.RoleOutput(selectors.role_get(user=request.user, role_id=pk)).data)

    @extend_schema(request=s.RoleInput, responses=s.RoleOutput, tags=["roles"])
    def put(self, request, pk: int):
        b = parse_body(s.RoleInput, request)
        services.role_update(actor=Actor.from_request(request), role_id=pk, name=b["name"],
                             description=b.get("description"), permission_ids=b["permissions"], status=b["status"])
        return ok(s.RoleOutput(selectors.role_get(user=request.user, role_id=pk)).data)

    @extend_schema(responses=NO_DATA, tags=["roles"])
    def delete(self, request, pk: int):
        services.role_delete(actor=Actor.from_request(request), role_id=pk)
        return ok(None)


class PermissionListView(APIView):
    @extend_schema(responses=s.PermissionOutput(many=True), tags=["roles"])
    def get(self, request):
        return ok(s.PermissionOutput(selectors.permission_list(), many=True).data)


class AuditLogListView(APIView):
    @extend_schema(parameters=[s.AuditLogQuery], responses=s.AuditLogOutput(many=True), tags=["system"])
    def get(self, request):
        q = parse_query(s.AuditLogQuery, request)
        if q.get("start") and q.get("end") and q["start"] >= q["end"]:
            raise errors.invalid("end", _("must be after start"))
        qs = selectors.audit_log_list(user=request.user, user_id=q.get("userId"), action=q.get("action"),
                                      object_type=q.get("objectType"), object_id=q.get("objectId"),
                                      start=q.get("start"), end=q.get("end"))
        return paginated(qs, q, s.AuditLogOutput)
