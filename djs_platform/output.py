"""Plain output mappings: a DRF output serializer compiled once into a function of one object.

DRF's ``Serializer.to_representation`` walks every field of every row through ``get_attribute``,
``to_representation``, ``SkipField`` checks and (for date-times) a time-zone lookup per value: for a page of 50
records that was 40 % of a ``GET /records`` request (docs/performance.md). The serializer class stays the
contract — the OpenAPI schema, field names, sources, null handling and formats are read from it — and
:class:`PlainOutput` produces the same dicts with one attribute read and at most one conversion per field.

Only field classes whose output is a plain conversion get a fast path (integer, string, boolean, float,
ISO-8601 date-time, JSON, method fields, lists and dicts of strings, a nested serializer of one object, itself
compiled); any other field (nested lists of serializers, custom fields) goes through its own
``to_representation``, so the result is always what the serializer would produce. Mappings are read by key, as
DRF reads them.
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


def _str_list(value: Any) -> list:
    """``ListField(child=CharField())``: as DRF writes it."""
    return [None if item is None else str(item) for item in value]


def _str_dict(value: Any) -> dict:
    """``DictField(child=CharField())``: as DRF writes it."""
    return {str(key): None if item is None else str(item) for key, item in value.items()}


class PlainOutput:
    """``PlainOutput(RecordOutput).many(rows)`` == ``RecordOutput(rows, many=True).data`` (as plain lists and
    dicts), computed without DRF's per-field machinery. Build it once per serializer class (module level);
    ``context`` is passed to the serializer instance that method fields are called on."""

    def __init__(self, serializer_class: type[serializers.Serializer], context: dict | None = None) -> None:
        self.serializer_class = serializer_class
        self._context = context or {}
        self._serializer = serializer_class(context=self._context)
        self._steps: list[tuple[str, Callable[[Any], Any], Callable[[Any], Any] | None, bool]] = []
        #: (name, key, convert, handles None) for a mapping (DRF reads ``obj[key]``); None when a field has a
        #: dotted or ``*`` source, and a mapping then goes through the serializer.
        self._key_steps: list[tuple[str, str, Callable[[Any], Any] | None, bool]] | None = []
        for name, field in self._serializer.fields.items():
            if field.write_only:
                continue
            read, convert, handles_none = self._compile(field)
            self._steps.append((name, read, convert, handles_none))
            attrs = field.source_attrs
            if self._key_steps is not None and len(attrs) == 1 and attrs[0] \
                    and not isinstance(field, serializers.SerializerMethodField):
                self._key_steps.append((name, attrs[0], convert, handles_none))
            else:
                self._key_steps = None

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
        if kind is serializers.ListField and type(field.child) is serializers.CharField:
            return read, _str_list, False
        if kind is serializers.DictField and type(field.child) is serializers.CharField:
            return read, _str_dict, False
        if isinstance(field, serializers.Serializer) and source:  # nested, one object: compiled as well
            return read, PlainOutput(type(field), self._context), False
        return read, field.to_representation, False

    def one(self, obj: Any) -> dict[str, Any]:
        return self._one(obj, timezone.get_current_timezone() if settings.USE_TZ else None)

    def _one(self, obj: Any, zone) -> dict[str, Any]:
        """``obj`` written with date-times in ``zone`` (read once per call of :meth:`one`/:meth:`many`, not per
        object: the current zone is a context-local lookup)."""
        if isinstance(obj, Mapping):
            return self._one_mapping(obj, zone)
        out: dict[str, Any] = {}
        for name, read, convert, handles_none in self._steps:
            try:
                value = read(obj)
            except (AttributeError, ObjectDoesNotExist):  # DRF's own rules (default, null, skip, error)
                return self._drf(obj)
            out[name] = self._convert(value, convert, handles_none, zone)
        return out

    def _one_mapping(self, obj: Mapping, zone) -> dict[str, Any]:
        """DRF reads a mapping by key (``obj[source]``); a missing key or a dotted source: the serializer."""
        if self._key_steps is None:
            return self._drf(obj)
        out: dict[str, Any] = {}
        for name, key, convert, handles_none in self._key_steps:
            try:
                value = obj[key]
            except KeyError:
                return self._drf(obj)
            out[name] = self._convert(value, convert, handles_none, zone)
        return out

    @staticmethod
    def _convert(value: Any, convert: Any, handles_none: bool, zone) -> Any:
        if convert is _iso_datetime:
            return _iso_datetime(value, zone)
        if handles_none:
            return value if convert is None else convert(value)
        if value is None or convert is None:
            return value
        if type(convert) is PlainOutput:  # a nested serializer, compiled
            return convert._one(value, zone)
        return convert(value)

    def _drf(self, obj: Any) -> dict[str, Any]:
        return dict(self.serializer_class(obj, context=self._serializer.context).data)

    def many(self, objs: Iterable[Any]) -> list[dict[str, Any]]:
        zone = timezone.get_current_timezone() if settings.USE_TZ else None
        return [self._one(obj, zone) for obj in objs]
