"""Rows of the scheduler's multi-row statements (record INSERT, rollup upserts) with their numbers, dates and NULLs
written as SQL text, and only their strings bound as parameters.

A claim or a result flush of a few hundred fires binds thousands of values, and the MySQL driver turns each bound
value into SQL text in Python (``Connection.literal``, about a microsecond each): about a tenth of a scheduler
node's CPU per fire (docs/performance.md, "Scheduler CPU per fire"). The text of an ``int``, a ``date``, an adapted
``datetime``, a ``bool`` or ``None`` holds only digits, separators and keywords, so it can be written into the
statement as is; every other value (names, labels, anything of another type) stays a ``%s`` parameter."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime
from typing import Any


def row(values: Iterable[Any], params: list[Any], adapt_datetime: Callable[[datetime], Any]) -> str:
    """``(v1, v2, ...)``: numbers, dates, datetimes (through the backend's ``adapt_datetimefield_value``), booleans
    and NULLs as text; every other value as ``%s``, appended to ``params`` in order."""
    return "(" + ", ".join([value(v, params, adapt_datetime) for v in values]) + ")"


def value(v: Any, params: list[Any], adapt_datetime: Callable[[datetime], Any]) -> str:
    """One value as :func:`row` writes it: its SQL text, or ``%s`` with ``v`` (a datetime as adapted) appended to
    ``params``."""
    kind = type(v)  # exact types: an int subclass (an enum member) or a str goes through the driver
    if kind is int:
        return str(v)
    if v is None:
        return "NULL"
    if kind is bool:
        return "TRUE" if v else "FALSE"
    if kind is date:
        return f"'{v.isoformat()}'"
    if kind is datetime:
        text = adapt_datetime(v)
        if _plain(text):
            return f"'{text}'"
        v = text  # bound as the backend adapted it
    params.append(v)
    return "%s"


def cached(adapt: Callable[[datetime], Any]) -> Callable[[datetime], Any]:
    """``adapt`` remembering its answers, for one statement: its rows repeat a few instants (the claim's time, the
    fires' shared scheduled instants), and adapting a datetime (to the connection's zone) costs more than binding it."""
    answers: dict[datetime, Any] = {}

    def adapted(value: datetime) -> Any:
        text = answers.get(value)
        if text is None:
            text = answers[value] = adapt(value)
        return text

    return adapted


def _plain(text: Any) -> bool:
    """An adapted datetime that can be written between quotes: a string of digits and separators only."""
    return isinstance(text, str) and text.replace("-", "").replace(":", "").replace(" ", "").replace(
        ".", "").replace("+", "").replace("T", "").isdigit()
