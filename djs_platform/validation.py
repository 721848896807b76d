"""The input checks every way into DJS shares: REST (the JSON parser and query strings), gRPC (every request
message, JSON text fields included), declarative apply and console import (docs/api.md, "Hostile input").

Security-relevant. What is refused here, with 4001 / INVALID_ARGUMENT and the path of the offending value:

* **Lone UTF-16 surrogates** (``"\\udfff"`` in JSON): Python keeps them in ``str``, but no UTF-8 encoder
  accepts them, so a stored one made every later read of the row answer 500 (issue 16, finding 3). A correct
  pair (``"\\ud83d\\ude00"``) is decoded by the JSON parser into one character and passes.
* **NUL in an HTTP header value** (any mapping under a key named ``headers``): it can never be sent and
  failed only at run time.
* **JSON nested deeper than** ``server.jsonMaxDepth`` (64 in configs/config.yaml): the parsers
  and serializers recurse, and 3,000 levels raised ``RecursionError`` (500). The depth of a text is measured
  by a linear scan *before* it is parsed (:func:`json_depth`), so a deep document costs one pass.

JSON held as text inside a value (``"headers": "{\\"X\\": 1}"``, gRPC ``params``, ``grpcParams``) is checked
the same way, because the serializers parse it again: any string that starts like a JSON object or array is
depth-scanned and, when it parses, walked like the outer document.

For output the opposite holds: :func:`clean` replaces lone surrogates with U+FFFD, so a row stored before these
checks existed renders instead of taking a whole list down (the REST renderer and the gRPC servicers use it).
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _
from google.protobuf.message import Message

from djs_platform import errors

_SURROGATE = re.compile("[\ud800-\udfff]")
# A JSON string literal (unrolled loop: no backtracking on long strings), or one bracket.
_STRING_OR_BRACKET = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)
_JSON_START = re.compile(r"\s*[\[{]")


def max_json_depth() -> int:
    """Deepest nesting of JSON objects/arrays accepted (``server.jsonMaxDepth``); ``{"a": [1]}`` is 2 deep."""
    return settings.DJS_SERVER.json_max_depth


def json_depth(text: str | bytes, stop_above: int | None = None) -> int:
    """Deepest bracket nesting of a JSON text, brackets inside string literals not counted; the scan stops as
    soon as the depth passes ``stop_above``. Unbalanced input is measured as written (the parser refuses it
    afterwards)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    depth = deepest = 0
    for match in _STRING_OR_BRACKET.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if stop_above is not None and deepest > stop_above:
                    break
        elif token in "]}":
            depth = max(0, depth - 1)
    return deepest


def _label(path: str) -> str:
    return path or "request"


def _printable(text: str) -> str:
    """``text`` with lone surrogates spelled ``\\udfff``: safe to echo in a message or a field name."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8") if _SURROGATE.search(text) else text


def _problem(path: str, message: str) -> errors.InvalidArgument:
    label = _label(path)
    return errors.InvalidArgument(_("%(field)s: %(message)s") % {"field": label, "message": message},
                                  fields={label: [message]})


def _join(path: str, key: Any) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    key = _printable(str(key))
    return f"{path}.{key}" if path else key


def check_json_text(text: str | bytes, path: str = "") -> Any:
    """Parse a JSON document after checking its depth, then check what it holds (:func:`check_value`).
    Raises :class:`~djs_platform.errors.InvalidArgument`; ``ValueError`` for text that is not JSON."""
    limit = max_json_depth()
    if json_depth(text, stop_above=limit) > limit:
        raise _problem(path, _("JSON nested deeper than %(limit)s levels") % {"limit": limit})
    value = json.loads(text)
    check_value(value, path)
    return value


def check_value(value: Any, path: str = "", *, depth: int = 0) -> None:
    """Walk a decoded document (JSON, YAML, a gRPC message's JSON field) without recursion and refuse lone
    surrogates in keys and strings, NUL in header values and nesting deeper than ``server.jsonMaxDepth``."""
    limit = max_json_depth()
    stack: list[tuple[Any, str, int, bool]] = [(value, path, depth, False)]
    while stack:
        item, where, level, in_headers = stack.pop()
        if isinstance(item, str):
            _check_string(item, where, in_headers, stack, level)
        elif isinstance(item, dict):
            if level + 1 > limit:
                raise _problem(where, _("JSON nested deeper than %(limit)s levels") % {"limit": limit})
            for key, child in item.items():
                child_path = _join(where, key)
                if isinstance(key, str) and _SURROGATE.search(key):
                    raise _problem(child_path, _("contains a lone UTF-16 surrogate (an unpaired \\ud800-\\udfff)"))
                if in_headers and isinstance(child, str) and "\x00" in child:
                    raise _problem(where, _("header %(header)r must not contain NUL characters")
                                          % {"header": _printable(str(key))})
                stack.append((child, child_path, level + 1, key == "headers" and not in_headers))
        elif isinstance(item, (list, tuple)):
            if level + 1 > limit:
                raise _problem(where, _("JSON nested deeper than %(limit)s levels") % {"limit": limit})
            stack.extend((child, _join(where, index), level + 1, False) for index, child in enumerate(item))


def _check_string(text: str, path: str, headers: bool, stack: list, level: int) -> None:
    if _SURROGATE.search(text):
        raise _problem(path, _("contains a lone UTF-16 surrogate (an unpaired \\ud800-\\udfff)"))
    if not _JSON_START.match(text):
        return
    # JSON held as text: the serializers parse it again, so it gets the same checks.
    limit = max_json_depth()
    if json_depth(text, stop_above=limit) > limit:
        raise _problem(path, _("JSON nested deeper than %(limit)s levels") % {"limit": limit})
    try:
        inner = json.loads(text)
    except ValueError:  # not JSON after all: the field's own validation says what is wrong
        return
    if headers and isinstance(inner, dict):
        for key, value in inner.items():
            if isinstance(value, str) and "\x00" in value:
                raise _problem(path, _("header %(header)r must not contain NUL characters")
                                     % {"header": _printable(str(key))})
    stack.append((inner, path, 0, False))


def check_query(params: Iterable[tuple[str, str]]) -> None:
    """Query-string values: NUL and lone surrogates refused (Django already turns undecodable bytes into U+FFFD)."""
    for key, value in params:
        if _SURROGATE.search(key) or _SURROGATE.search(value):
            raise _problem(_printable(key), _("contains a lone UTF-16 surrogate (an unpaired \\ud800-\\udfff)"))
        if "\x00" in value:
            raise _problem(key, _("must not contain NUL characters"))


# --- output ---------------------------------------------------------------------------------------------------

def clean_text(text: str) -> str:
    """``text`` with every lone surrogate replaced by U+FFFD (what UTF-8 can carry)."""
    return _SURROGATE.sub("\ufffd", text) if _SURROGATE.search(text) else text


def clean(value: Any) -> Any:
    """A copy of a document (dicts, lists, tuples, strings, anything else as is) whose strings and keys carry no
    lone surrogate. Iterative, so a deep legacy value cannot exhaust the stack either."""
    if isinstance(value, str):
        return clean_text(value)
    if not isinstance(value, (dict, list, tuple)):
        return value
    root: list[Any] = [None]
    stack: list[tuple[Any, Any, Any]] = [(value, root, 0)]
    while stack:
        item, parent, slot = stack.pop()
        if isinstance(item, str):
            parent[slot] = clean_text(item)
        elif isinstance(item, dict):
            copy: dict[Any, Any] = {}
            parent[slot] = copy
            for key, child in item.items():
                new_key = clean_text(key) if isinstance(key, str) else key
                copy[new_key] = None
                stack.append((child, copy, new_key))
        elif isinstance(item, (list, tuple)):
            items: list[Any] = [None] * len(item)
            parent[slot] = items
            stack.extend((child, items, index) for index, child in enumerate(item))
        else:
            parent[slot] = item
    return root[0]


def dumps(value: Any, **kwargs: Any) -> str:
    """``json.dumps`` whose result always encodes as UTF-8 (lone surrogates become U+FFFD)."""
    return clean_text(json.dumps(value, **kwargs))


# --- gRPC request messages --------------------------------------------------------------------------------------

def check_message(message: Any) -> None:
    """Every string field of a protobuf request message, nested and repeated ones included: lone surrogates are
    refused, and a field holding JSON text (gRPC ``params``) gets :func:`check_value`'s checks. Field paths are
    the proto names (``tasks[1].params``)."""
    if not isinstance(message, Message):  # a handler without a deserializer gets raw bytes: nothing to walk
        return
    stack: list[tuple[Any, str]] = [(message, "")]
    while stack:
        msg, prefix = stack.pop()
        for descriptor, value in msg.ListFields():
            name = f"{prefix}{descriptor.name}"
            if not descriptor.is_repeated:
                items: list[tuple[Any, Any]] = [(None, value)]
            elif hasattr(value, "items"):  # a map field
                items = list(value.items())
            else:
                items = list(enumerate(value))
            for index, item in items:
                if index is None:
                    path = name
                else:
                    if isinstance(index, str):
                        check_value(index, f"{name} key")
                    path = f"{name}[{index}]"
                if isinstance(item, Message):
                    stack.append((item, path + "."))
                elif isinstance(item, str):
                    check_value(item, path)
                elif isinstance(item, bytes) and _JSON_START.match(item[:64].decode("ascii", "replace")):
                    try:  # JSON carried as bytes (ScheduleTaskRequest.params)
                        decoded = item.decode("utf-8")
                    except UnicodeDecodeError:
                        continue  # the servicer answers "invalid JSON"
                    check_value(decoded, path)
