from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.db import models

from djs_platform.tenancy import RestrictedQuerySet

STATUS_CHOICES = [(0, "disabled"), (1, "enabled")]


class Permission(models.Model):
    name = models.CharField(max_length=50)
    code = models.CharField(max_length=50, unique=True)
    description = models.CharField(max_length=255, null=True, blank=True)
    status = models.SmallIntegerField(default=1)
    create_time = models.DateTimeField(auto_now_add=True)
    update_time = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "permission"
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(status__in=[0, 1]), name="permission_status_valid"),
        ]

    def __str__(self) -> str:
        return self.code


class Role(models.Model):
    """A named set of permission codes; roles are platform-wide, assigned to users."""

    name = models.CharField(max_length=50, unique=True)
    description = models.CharField(max_length=255, null=True, blank=True)
    status = models.SmallIntegerField(default=1)
    permissions = models.ManyToManyField(Permission, through="RolePermission", related_name="roles")
    create_time = models.DateTimeField(auto_now_add=True)
    update_time = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "role"
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(status__in=[0, 1]), name="role_status_valid"),
        ]

    def __str__(self) -> str:
        return self.name


class RolePermission(models.Model):
    role = models.ForeignKey(Role, on_delete=models.CASCADE)
    permission = models.ForeignKey(Permission, on_delete=models.CASCADE)
    create_time = models.DateTimeField(auto_now_add=True)
    update_time = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "role_permission"
        constraints = [models.UniqueConstraint(fields=["role", "permission"], name="idx_role_perm")]


class UserQuerySet(RestrictedQuerySet):
    pass


class UserManager(BaseUserManager.from_queryset(UserQuerySet)):  # type: ignore[misc]
    use_in_migrations = True


class User(AbstractBaseUser):
    """A person; belongs to one department and holds one role. ``AUTH_USER_MODEL``."""

    last_login = None  # not part of the schema

    username = models.CharField(max_length=50, unique=True)
    real_name = models.CharField(max_length=50)
    email = models.CharField(max_length=100, null=True, blank=True)
    phone = models.CharField(max_length=20, null=True, blank=True)
    department = models.ForeignKey("departments.Department", on_delete=models.PROTECT, related_name="users")
    role = models.ForeignKey(Role, on_delete=models.PROTECT, related_name="users")
    status = models.SmallIntegerField(default=1)
    create_time = models.DateTimeField(auto_now_add=True)
    update_time = models.DateTimeField(auto_now=True)

    USERNAME_FIELD = "username"
    REQUIRED_FIELDS = ["real_name"]

    objects = UserManager()

    class Meta:
        db_table = "user"
        ordering = ["id"]
        indexes = [models.Index(fields=["status"], name="idx_user_status")]
        constraints = [
            models.CheckConstraint(condition=models.Q(status__in=[0, 1]), name="user_status_valid"),
        ]

    @property
    def is_active(self) -> bool:  # type: ignore[override]
        return self.status == 1

    def __str__(self) -> str:
        return self.username


class AuditLog(models.Model):
    """Who did what to which object, when and from where. Rows survive the deletion of their actor."""

    SCOPE_FIELD = "department_id"

    user_id = models.BigIntegerField(null=True, blank=True)
    username = models.CharField(max_length=50)
    department_id = models.BigIntegerField(null=True, blank=True)
    action = models.CharField(max_length=50)
    object_type = models.CharField(max_length=50)
    object_id = models.CharField(max_length=64, null=True, blank=True)
    object_repr = models.CharField(max_length=255, blank=True, default="")
    changes = models.JSONField(null=True, blank=True)
    client_ip = models.CharField(max_length=45, blank=True, default="")
    user_agent = models.CharField(max_length=255, blank=True, default="")
    via = models.CharField(max_length=10, default="rest")
    create_time = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        db_table = "audit_log"
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["object_type", "object_id"], name="idx_audit_object"),
            models.Index(fields=["user_id"], name="idx_audit_user"),
            models.Index(fields=["department_id"], name="idx_audit_department"),
        ]
