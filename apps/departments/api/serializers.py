from __future__ import annotations

from rest_framework import serializers

from djs_platform.fields import IdField, InputSerializer, StatusField, StrictCharField


class DepartmentOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    description = serializers.CharField(allow_null=True)
    parentId = serializers.IntegerField(source="parent_id", allow_null=True)
    status = serializers.IntegerField()
    createTime = serializers.DateTimeField(source="create_time")
    updateTime = serializers.DateTimeField(source="update_time")


class DepartmentInput(InputSerializer):
    name = StrictCharField(max_length=255)
    description = StrictCharField(max_length=500, required=False, allow_null=True, allow_blank=True)
    parentId = IdField(required=False, allow_null=True)
    status = StatusField()


class DepartmentQuery(serializers.Serializer):
    keyword = serializers.CharField(max_length=100, required=False, allow_blank=True)
    tree = serializers.BooleanField(required=False, default=False)
