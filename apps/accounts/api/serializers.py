from __future__ import annotations

import re

from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.accounts.audit import action_label
from apps.accounts.models import USERNAME_MAX_LENGTH, normalize_username, username_problem
from apps.accounts.services import API_TOKEN_MAX_DAYS, API_TOKEN_NAME_MAX_LENGTH
from djs_platform.envelope import PageQuery, SortField
from djs_platform.fields import IdField, InputSerializer, StatusField, StrictCharField, StrictIntegerField
from apps.accounts.permissions import permission_label

PHONE_REGEX = r"^[0-9+()\- ]{3,20}$"


# --- auth -------------------------------------------------------------------------------------

class LoginInput(InputSerializer):
    username = StrictCharField(max_length=50)
    password = StrictCharField(max_length=128, trim_whitespace=False)


class RefreshInput(InputSerializer):
    """``{refreshToken}`` rotates the pair; no body (or ``{}``) with ``Authorization: Bearer <access token>`` is the
    seed's sliding refresh."""

    refreshToken = StrictCharField(max_length=4096, trim_whitespace=False, required=False)  # never trimmed


class LogoutInput(InputSerializer):
    refreshToken = StrictCharField(max_length=4096, required=False, trim_whitespace=False)


# --- users ------------------------------------------------------------------------------------

class UserOutput(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    realName = serializers.CharField(source="real_name")
    email = serializers.CharField(allow_null=True)
    phone = serializers.CharField(allow_null=True)
    departmentId = serializers.IntegerField(source="department_id")
    departmentName = serializers.CharField(source="department.name")
    roleId = serializers.IntegerField(source="role_id")
    roleName = serializers.CharField(source="role.name")
    status = serializers.IntegerField()
    createTime = serializers.DateTimeField(source="create_time")
    updateTime = serializers.DateTimeField(source="update_time")


class UserInfoOutput(UserOutput):
    permissions = serializers.ListField(child=serializers.CharField())


class TokenOutput(serializers.Serializer):
    token = serializers.CharField()
    refreshToken = serializers.CharField()
    expiresIn = serializers.IntegerField()
    tokenType = serializers.CharField()
    user = UserInfoOutput()


class RefreshOutput(serializers.Serializer):
    """``POST /auth/refresh``: rotation answers the whole pair (as login does); the seed's header-only exchange
    answers ``token`` and ``expiresIn`` only (a new access token of the same login family, its seconds)."""

    token = serializers.CharField()
    expiresIn = serializers.IntegerField()
    refreshToken = serializers.CharField(required=False, help_text="rotation only")
    tokenType = serializers.CharField(required=False, help_text="rotation only")
    user = UserInfoOutput(required=False, help_text="rotation only")


class UserInput(InputSerializer):
    # A bound on what is read; the length rule is counted on the NFKC form (username_problem).
    username = StrictCharField(max_length=USERNAME_MAX_LENGTH * 4)
    password = StrictCharField(max_length=128, trim_whitespace=False)
    realName = StrictCharField(max_length=50)
    email = serializers.EmailField(max_length=100, required=False, allow_null=True, allow_blank=True)
    phone = StrictCharField(max_length=20, required=False, allow_null=True, allow_blank=True)
    departmentId = IdField()
    roleId = IdField()
    status = StatusField()

    def validate_username(self, value: str) -> str:
        problem = username_problem(value)  # the one rule (apps.accounts.models), also applied by the services
        if problem:
            raise serializers.ValidationError(problem)
        return normalize_username(value)  # stored NFKC: fullwidth "ａｄｍｉｎ" is "admin"

    def validate_email(self, value: str | None) -> str | None:
        return value or None

    def validate_phone(self, value: str | None) -> str | None:
        if value and not re.match(PHONE_REGEX, value):
            raise serializers.ValidationError(_("3-20 characters: digits, spaces, + - ( )"))
        return value or None


class UserUpdateInput(UserInput):
    password = StrictCharField(max_length=128, trim_whitespace=False, required=False, allow_blank=True)


class PasswordInput(InputSerializer):
    oldPassword = StrictCharField(max_length=128, trim_whitespace=False, required=False, allow_blank=True)
    newPassword = StrictCharField(max_length=128, trim_whitespace=False)


class UserQuery(PageQuery):
    departmentId = serializers.IntegerField(min_value=1, max_value=2**63 - 1, required=False)
    keyword = serializers.CharField(max_length=100, required=False, allow_blank=True)
    status = serializers.IntegerField(min_value=0, max_value=1, required=False)
    roleId = serializers.IntegerField(min_value=1, max_value=2**63 - 1, required=False)
    sort = SortField({"id": "id", "username": "username", "realName": "real_name", "status": "status",
                      "createTime": "create_time", "updateTime": "update_time"})


# --- roles & permissions ----------------------------------------------------------------------

class PermissionOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    code = serializers.CharField()
    description = serializers.CharField(allow_null=True)
    status = serializers.IntegerField()
    label = serializers.SerializerMethodField()

    def get_label(self, perm) -> str:
        """The permission's name in the request's language (docs/i18n.md)."""
        return permission_label(perm.code, perm.name)


class RoleOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    description = serializers.CharField(allow_null=True)
    status = serializers.IntegerField()
    permissions = serializers.SerializerMethodField()
    permissionCodes = serializers.SerializerMethodField()
    permissionLabels = serializers.SerializerMethodField()
    createTime = serializers.DateTimeField(source="create_time")
    updateTime = serializers.DateTimeField(source="update_time")

    def get_permissions(self, role) -> list[int]:
        return sorted(p.id for p in role.permissions.all())

    def get_permissionCodes(self, role) -> list[str]:
        return sorted(p.code for p in role.permissions.all())

    def get_permissionLabels(self, role) -> dict[str, str]:
        """``{code: name in the request's language}`` for the role's permissions (docs/i18n.md)."""
        return {p.code: permission_label(p.code, p.name) for p in sorted(role.permissions.all(), key=lambda p: p.code)}


class RoleInput(InputSerializer):
    name = StrictCharField(max_length=50)
    description = StrictCharField(max_length=255, required=False, allow_null=True, allow_blank=True)
    permissions = serializers.ListField(child=IdField(), max_length=1000)
    status = StatusField()


class RoleQuery(PageQuery):
    keyword = serializers.CharField(max_length=100, required=False, allow_blank=True)
    status = serializers.IntegerField(min_value=0, max_value=1, required=False)
    sort = SortField({"id": "id", "name": "name", "status": "status", "createTime": "create_time",
                      "updateTime": "update_time"})


# --- audit log --------------------------------------------------------------------------------

class AuditLogOutput(serializers.Serializer):
    id = serializers.IntegerField()
    userId = serializers.IntegerField(source="user_id", allow_null=True)
    username = serializers.CharField()
    departmentId = serializers.IntegerField(source="department_id", allow_null=True)
    action = serializers.CharField()
    actionLabel = serializers.SerializerMethodField()
    objectType = serializers.CharField(source="object_type")
    objectId = serializers.CharField(source="object_id", allow_null=True)
    objectRepr = serializers.CharField(source="object_repr")
    changes = serializers.JSONField(allow_null=True)
    clientIp = serializers.CharField(source="client_ip")
    userAgent = serializers.CharField(source="user_agent")
    via = serializers.CharField()
    createTime = serializers.DateTimeField(source="create_time")

    def get_actionLabel(self, row) -> str:
        """The action code in the request's language (docs/i18n.md)."""
        return action_label(row.action)


class AuditLogQuery(PageQuery):
    userId = serializers.IntegerField(min_value=1, max_value=2**63 - 1, required=False)
    action = serializers.CharField(max_length=50, required=False, allow_blank=True)
    objectType = serializers.CharField(max_length=50, required=False, allow_blank=True)
    objectId = serializers.CharField(max_length=64, required=False, allow_blank=True)
    start = serializers.DateTimeField(required=False)
    end = serializers.DateTimeField(required=False)
    # Audit rows only grow: only indexed columns (create_time has its own index; id is the key).
    sort = SortField({"id": "id", "createTime": "create_time"})


class ApiTokenQuery(PageQuery):
    sort = SortField({"id": "id", "name": "name", "createTime": "create_time", "expiresAt": "expires_at",
                      "lastUsedAt": "last_used_at"})


# --- personal API tokens (issue 19) -----------------------------------------------------------------------------

class ApiTokenOutput(serializers.Serializer):
    """A token as listed: never its secret (only ``prefix``, its first characters, to recognise it)."""

    id = serializers.IntegerField()
    userId = serializers.IntegerField(source="user_id")
    name = serializers.CharField()
    prefix = serializers.CharField(help_text="djs_pat_ and the secret's first 6 characters")
    state = serializers.SerializerMethodField(help_text="active, expired or revoked")
    createTime = serializers.DateTimeField(source="create_time")
    createdById = serializers.IntegerField(source="created_by_id", allow_null=True)
    createdByName = serializers.SerializerMethodField()
    expiresAt = serializers.DateTimeField(source="expires_at", allow_null=True)
    lastUsedAt = serializers.DateTimeField(source="last_used_at", allow_null=True)
    revokedAt = serializers.DateTimeField(source="revoked_at", allow_null=True)

    @extend_schema_field({"type": "string", "enum": ["active", "expired", "revoked"]})
    def get_state(self, token) -> str:
        return token.state(timezone.now())

    def get_createdByName(self, token) -> str | None:
        return token.created_by.username if token.created_by_id and token.created_by else None


class ApiTokenCreatedOutput(ApiTokenOutput):
    """The answer of ``POST /users/{id}/tokens``: the token and, this once, its secret."""

    token = serializers.CharField(help_text="the secret: shown this once, stored only as a SHA-256 hash")


class ApiTokenInput(InputSerializer):
    """``{name, expiresInDays?}`` or ``{name, expiresAt?}``; neither: the token never expires."""

    name = StrictCharField(max_length=API_TOKEN_NAME_MAX_LENGTH)
    expiresInDays = StrictIntegerField(min_value=1, max_value=API_TOKEN_MAX_DAYS, required=False, allow_null=True)
    expiresAt = serializers.DateTimeField(required=False, allow_null=True)

    def validate(self, attrs):
        if attrs.get("expiresInDays") is not None and attrs.get("expiresAt") is not None:
            raise serializers.ValidationError({"expiresAt": [_("give expiresInDays or expiresAt, not both")]})
        return attrs
