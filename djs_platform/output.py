"""Plain output mappings: a DRF output serializer compiled once into a function of one object.

DRF's ``Serializer.to_representation`` walks every field of every row through ``get_attribute``,
``to_representation``, ``SkipField`` checks and (for date-times) a time-zone lookup per value: for a page of 50
records that was 40 % of a ``GET /records`` request (docs/performance.md). The serializer class stays the
contract — the OpenAPI schema, field names, sources, null handling and formats are read from it — and
:class:`PlainOutput` produces the same dicts with one attribute read and at most one conversion per field.

Only field classes whose output is a plain conversion get a fast path (integer, string, boolean, float,
ISO-8601 date-time, JSON, method fields); any other field (nested serializers, lists, dicts, custom fields)
goes through its own ``to_representation``, so the result is always what the serializer would produce.
``tests`` compare both on rows with every column null and set.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from operator import attrgetter
from typing import Any

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.utils import timezone
from rest_framework import ISO_8601, serializers
from rest_framework.settings import api_settings

_MISSING = object()


def _iso_datetime(value: Any, zone) -> Any:
    """ISO-8601 in ``zone`` (the current zone), as DRF's DateTimeField writes it."""
    if not value:
        return None
    if isinstance(value, str):
        return value
    if zone is not None and timezone.is_aware(value):
        value = value.astimezone(zone)
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


class PlainOutput:
    """``PlainOutput(RecordOutput).many(rows)`` == ``RecordOutput(rows, many=True).data`` (as plain lists and
    dicts), computed without DRF's per-field machinery. Build it once per serializer class (module level);
    ``context`` is passed to the serializer instance that method fields are called on."""

    def __init__(self, serializer_class: type[serializers.Serializer], context: dict | None = None) -> None:
        self.serializer_class = serializer_class
        self._serializer = serializer_class(context=context or {})
        self._steps: list[tuple[str, Callable[[Any], Any], Callable[[Any], Any] | None, bool]] = []
        for name, field in self._serializer.fields.items():
            if field.write_only:
                continue
            self._steps.append((name, *self._compile(field)))

    def _compile(self, field: serializers.Field) -> tuple[Callable[[Any], Any], Callable[[Any], Any] | None, bool]:
        """(read the attribute, convert it or None for as-is, whether the converter handles None itself)."""
        if isinstance(field, serializers.SerializerMethodField):
            method = getattr(self._serializer, field.method_name)
            return method, None, True
        source = ".".join(field.source_attrs)
        read = attrgetter(source) if source else (lambda obj: obj)
        kind = type(field)
        if kind is serializers.IntegerField:
            return read, int, False
        if kind is serializers.CharField:
            return read, str, False
        if kind is serializers.BooleanField:
            return read, bool, False
        if kind is serializers.FloatField:
            return read, float, False
        if kind is serializers.JSONField and not field.binary:
            return read, None, False
        if kind is serializers.DateTimeField and not hasattr(field, "timezone") \
                and str(getattr(field, "format", api_settings.DATETIME_FORMAT) or "").lower() == ISO_8601:
            return read, _iso_datetime, True
        return read, field.to_representation, False

    def one(self, obj: Any) -> dict[str, Any]:
        if isinstance(obj, Mapping):  # DRF reads mappings by key; not the fast path's case
            return dict(self.serializer_class(obj, context=self._serializer.context).data)
        zone = timezone.get_current_timezone() if settings.USE_TZ else None
        out: dict[str, Any] = {}
        for name, read, convert, handles_none in self._steps:
            try:
                value = read(obj)
            except (AttributeError, ObjectDoesNotExist):  # DRF's own rules (default, null, skip, error)
                return dict(self.serializer_class(obj, context=self._serializer.context).data)
            if convert is _iso_datetime:  # needs the zone, read once per object above
                out[name] = _iso_datetime(value, zone)
            elif handles_none:
                out[name] = value if convert is None else convert(value)
            else:
                out[name] = None if value is None else (value if convert is None else convert(value))
        return out

    def many(self, objs: Iterable[Any]) -> list[dict[str, Any]]:
        return [self.one(obj) for obj in objs]
