"""Strict input fields and the base input serializer: JSON types are not coerced, unknown keys refused."""
from __future__ import annotations

from typing import Any

from django.http import QueryDict
from django.utils.translation import gettext as _
from rest_framework import serializers

from djs_platform import errors
from djs_platform.envelope import validation_error


class StrictCharField(serializers.CharField):
    """A string, never a number or bool turned into one."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer (``true`` and ``"5"`` are refused) within the signed 64-bit range."""

    def __init__(self, **kwargs: Any):
        kwargs.setdefault("min_value", -(2**63))
        kwargs.setdefault("max_value", 2**63 - 1)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class IdField(StrictIntegerField):
    def __init__(self, **kwargs: Any):
        kwargs.setdefault("min_value", 1)
        super().__init__(**kwargs)


class StatusField(StrictIntegerField):
    def __init__(self, **kwargs: Any):
        kwargs.setdefault("min_value", 0)
        kwargs.setdefault("max_value", 1)
        super().__init__(**kwargs)


class InputSerializer(serializers.Serializer):
    """Base for request bodies: a JSON object with known keys only (mass-assignment is refused)."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict) and not isinstance(data, QueryDict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({key: [_("unknown field")] for key in unknown})
        return super().to_internal_value(data)


def parse_body(serializer_class: type[serializers.Serializer], request, **kwargs: Any) -> dict[str, Any]:
    if not isinstance(request.data, dict):
        raise errors.InvalidArgument(_("request body must be a JSON object"))
    serializer = serializer_class(data=request.data, **kwargs)
    if not serializer.is_valid():
        raise validation_error(serializer.errors)
    return dict(serializer.validated_data)
