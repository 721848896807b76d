"""Typed input checks for the service specs (``TaskSpec`` in apps/tasks/specs.py, ``PolicySpec`` in
apps/alerts/specs.py).

A spec is built from untyped values by every way in: a REST body, a gRPC message and its JSON ``params``, a
declarative YAML entry. These checks turn one such value into its declared type or say why not, worded as the
REST input fields always worded it (``This field is required.``, ``A valid integer is required.``, ...), so a
mistake reads the same whichever way it came in. A spec collects the problems of all its fields in a
:class:`Problems` and raises them as one 4001 whose ``fields`` are keyed by the spec's field names; each caller
renames them to its own wire names (:func:`djs_platform.errors.renamed`).
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final, TypeVar

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from djs_platform import errors

T = TypeVar("T")


class Missing:
    """The value of a field the input did not carry (not the same as ``null``)."""

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Final = Missing()

# DRF's own wording, translated as DRF's catalogs translate it (docs/i18n.md)
REQUIRED = gettext_lazy("This field is required.")
NULL = gettext_lazy("This field may not be null.")
BLANK = gettext_lazy("This field may not be blank.")
NOT_A_STRING = gettext_lazy("Not a valid string.")
NOT_AN_INTEGER = gettext_lazy("A valid integer is required.")
NOT_A_BOOLEAN = gettext_lazy("Must be a valid boolean.")
NUL_CHARACTERS = gettext_lazy("Null characters are not allowed.")


class Invalid(Exception):
    """One field's problems: ``messages``, and for a list the problems of its items by index (``items``)."""

    def __init__(self, *messages: str, items: dict[int, list[str]] | None = None):
        super().__init__(messages[0] if messages else "invalid")
        self.messages = list(messages)
        self.items = items or {}


class Problems:
    """Field problems in the order they were found, raised together as one 4001."""

    def __init__(self) -> None:
        self.fields: dict[str, list[str]] = {}

    def __bool__(self) -> bool:
        return bool(self.fields)

    def add(self, field: str, *messages: str) -> None:
        self.fields.setdefault(field, []).extend(messages)

    def check(self, field: str, value: Any, check: Callable[[Any], T], *, required: bool = False,
              default: Any = MISSING) -> T | Any:
        """``check(value)``, or ``default`` when the input did not carry the field (a problem if it is
        ``required``). A failed check is recorded under ``field`` and answers ``MISSING``."""
        if value is MISSING:
            if required:
                self.add(field, REQUIRED)
            return default
        try:
            return check(value)
        except Invalid as exc:
            if exc.messages:
                self.add(field, *exc.messages)
            for index, messages in exc.items.items():
                self.add(f"{field}.{index}", *messages)
            return MISSING

    def raise_if_any(self) -> None:
        if self.fields:
            first, messages = next(iter(self.fields.items()))
            raise errors.InvalidArgument(_("%(field)s: %(message)s") % {"field": first, "message": messages[0]},
                                         fields=dict(self.fields))


# --- values ---------------------------------------------------------------------------------------------------

def text(value: Any, *, max_length: int, blank: bool = False, null: bool = False, trim: bool = True,
         rules: Iterable[Callable[[str], str | None]] = ()) -> str | None:
    """A JSON string: trimmed unless ``trim`` is off, at most ``max_length`` characters, no NUL and no lone
    surrogate. ``""`` (or only spaces when trimmed) is a problem unless ``blank``, and answers ``""``.
    ``rules`` (each answering a problem or None) run on the value first and their problems come first."""
    if value is None:
        if null:
            return None
        raise Invalid(NULL)
    if value == "" or (trim and isinstance(value, str) and not value.strip()):
        if not blank:
            raise Invalid(BLANK)
        return ""
    if not isinstance(value, str):
        raise Invalid(NOT_A_STRING)
    if trim:
        value = value.strip()
    problems = [problem for rule in rules if (problem := rule(value))]
    if len(value) > max_length:
        problems.append(_("Ensure this field has no more than %(max_length)s characters.")
                        % {"max_length": max_length})
    if "\x00" in value:
        problems.append(NUL_CHARACTERS)
    surrogate = next((ch for ch in value if 0xD800 <= ord(ch) <= 0xDFFF), None)
    if surrogate is not None:
        problems.append(_("Surrogate characters are not allowed: U+%(code)s.") % {"code": format(ord(surrogate), "X")})
    if problems:
        raise Invalid(*problems)
    return value


def integer(value: Any, *, min_value: int = -(2**63), max_value: int = 2**63 - 1, null: bool = False) -> int | None:
    """A JSON integer (not a boolean, not a numeric string) within [min_value, max_value]."""
    if value is None:
        if null:
            return None
        raise Invalid(NULL)
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid(NOT_AN_INTEGER)
    if value > max_value:
        raise Invalid(_("Ensure this value is less than or equal to %(max_value)s.") % {"max_value": max_value})
    if value < min_value:
        raise Invalid(_("Ensure this value is greater than or equal to %(min_value)s.") % {"min_value": min_value})
    return value


def boolean(value: Any) -> bool:
    """A JSON boolean (``"true"`` and ``1`` are refused)."""
    if value is None:
        raise Invalid(NULL)
    if not isinstance(value, bool):
        raise Invalid(NOT_A_BOOLEAN)
    return value


def choice(value: Any, choices: Sequence[str]) -> str:
    """One of ``choices`` (compared as text, as the REST choice fields did)."""
    if value is None:
        raise Invalid(NULL)
    if str(value) not in choices:
        raise Invalid(_("\"%(value)s\" is not a valid choice.") % {"value": value})
    return str(value)


def items(value: Any, item: Callable[[Any], T], *, max_length: int, null: bool = False) -> list[T] | None:
    """A JSON list of at most ``max_length`` items, each checked by ``item`` (problems by index)."""
    if value is None:
        if null:
            return None
        raise Invalid(NULL)
    if isinstance(value, (str, Mapping)) or not isinstance(value, (list, tuple)):
        raise Invalid(_("Expected a list of items but got type \"%(type)s\".") % {"type": type(value).__name__})
    out: list[T] = []
    problems: dict[int, list[str]] = {}
    for index, element in enumerate(value):
        try:
            out.append(item(element))
        except Invalid as exc:
            problems[index] = exc.messages
    if problems:
        raise Invalid(items=problems)
    if len(out) > max_length:
        raise Invalid(_("Ensure this field has no more than %(max_length)s elements.") % {"max_length": max_length})
    return out


def json_object(value: Any, *, max_bytes: int) -> dict[str, Any] | None:
    """A JSON object, given as an object or as a string holding one (the original sends strings). ``null``
    is None, ``""`` (or spaces) an empty object."""
    if value is None:
        return None
    if isinstance(value, str):
        if not value.strip():
            return {}
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise Invalid(_("invalid JSON: %(exc)s") % {"exc": exc}) from None
    if not isinstance(value, dict):
        raise Invalid(_("must be a JSON object"))
    if len(json.dumps(value)) > max_bytes:
        raise Invalid(_("larger than %(max_bytes)s bytes") % {"max_bytes": max_bytes})
    return value


def unknown_fields(keys: Iterable[Any], known: Iterable[str]) -> dict[str, list[str]]:
    """``{key: ["unknown field"]}`` for every key of an input that is not ``known`` (mass assignment is
    refused), in the order REST always listed them."""
    return {str(key): [_("unknown field")] for key in sorted(set(map(str, keys)) - set(known))}
