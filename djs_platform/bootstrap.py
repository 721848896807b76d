"""``manage.py bootstrap`` as a platform step composed of each app's own step.

The platform knows no app: apps register their steps in ``AppConfig.ready`` (the accounts app seeds reference
data and the admin, the tasks app applies ``scheduler.jobs`` as that admin), and :func:`run` calls them in
``order``. A step reads and leaves what later steps need on the shared :class:`BootstrapContext`.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class BootstrapContext:
    """What the steps share: the command's options and output, and what earlier steps produced (``admin``)."""

    options: dict[str, Any]
    write: Callable[[str], None]
    warn: Callable[[str], None]
    admin: Any = None
    extra: dict[str, Any] = field(default_factory=dict)


_steps: dict[str, tuple[int, Callable[[BootstrapContext], None]]] = {}


def register_step(name: str, step: Callable[[BootstrapContext], None], *, order: int) -> None:
    """Add (or replace) a bootstrap step; lower ``order`` runs first."""
    _steps[name] = (order, step)


def steps() -> list[str]:
    return [name for name, _ in sorted(_steps.items(), key=lambda item: (item[1][0], item[0]))]


def run(context: BootstrapContext) -> None:
    for name in steps():
        _steps[name][1](context)
