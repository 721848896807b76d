from __future__ import annotations

from django.db import models
from django.db.models.functions import Now

from djs_platform.tenancy import RestrictedQuerySet
from djs_platform.timestamps import UpdateTimeField


class Department(models.Model):
    """A tenant. Users see their own department and everything below it."""

    SCOPE_FIELD = "id"

    name = models.CharField(max_length=255)
    description = models.CharField(max_length=500, null=True, blank=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    status = models.SmallIntegerField(default=1, db_default=1)
    create_time = models.DateTimeField(auto_now_add=True, db_default=Now())
    update_time = UpdateTimeField(auto_now=True, db_default=Now())

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        db_table = "department"
        ordering = ["id"]
        indexes = [models.Index(fields=["status"], name="idx_department_status")]
        constraints = [
            models.CheckConstraint(condition=models.Q(status__in=[0, 1]), name="department_status_valid"),
            models.UniqueConstraint(fields=["parent", "name"], name="department_sibling_name_unique"),
        ]

    def __str__(self) -> str:
        return self.name

    def enabled_with_ancestors(self) -> bool:
        """Whether this department and every ancestor are enabled (a disabled one shuts its subtree out)."""
        seen: set[int] = set()
        current: Department | None = self
        while current is not None:
            if current.status != 1:
                return False
            seen.add(current.pk)
            if current.parent_id is None or current.parent_id in seen:  # the top, or a corrupted cycle
                return True
            current = Department.objects.only("id", "parent_id", "status").filter(pk=current.parent_id).first()
        return True
