"""Reads for departments, always within the actor's scope."""
from __future__ import annotations

import json
import threading
import time
from typing import Any

from django.db.models import QuerySet

from apps.accounts.models import User
from apps.departments.models import Department
from djs_platform.tenancy import get_in_scope


def department_list(*, user: User, keyword: str | None = None) -> QuerySet[Department]:
    qs = Department.objects.restrict(user)
    if keyword:
        qs = qs.filter(name__icontains=keyword)
    return qs.order_by("id")


def department_get(*, user: User, department_id: int) -> Department:
    return get_in_scope(Department.objects.restrict(user), department_id, "department")


def department_depths(edges: list[tuple[int, int | None]]) -> dict[int, int]:
    """Level of every department (top = 1) from all (id, parent_id) pairs, without recursion."""
    children: dict[int | None, list[int]] = {}
    ids = {dept_id for dept_id, _ in edges}
    for dept_id, parent_id in edges:
        children.setdefault(parent_id if parent_id in ids else None, []).append(dept_id)
    depths: dict[int, int] = {}
    stack = [(dept_id, 1) for dept_id in children.get(None, ())]
    while stack:
        dept_id, depth = stack.pop()
        if dept_id in depths:  # a corrupted cycle must not loop forever
            continue
        depths[dept_id] = depth
        stack.extend((child, depth + 1) for child in children.get(dept_id, ()))
    return depths


def tree_json(roots: list[dict[str, Any]]) -> str:
    """JSON text of nested rows (``children`` lists), written without recursion: ``json.dumps`` of a tree
    hundreds of levels deep raises RecursionError (issue 16, finding 12: legacy chains deeper than
    ``departments.maxDepth`` must still render)."""
    parts = ["["]
    stack = [iter(roots)]
    first = [True]
    while stack:
        node = next(stack[-1], None)
        if node is None:
            stack.pop()
            first.pop()
            parts.append("]}" if stack else "]")
            continue
        if not first[-1]:
            parts.append(",")
        first[-1] = False
        flat = json.dumps({k: v for k, v in node.items() if k != "children"}, ensure_ascii=False)
        parts.append(flat[:-1] + (',"children":[' if flat != "{}" else '"children":['))
        stack.append(iter(node["children"]))
        first.append(True)
    # as DRF's renderer does: line/paragraph separators escaped for JavaScript consumers
    return "".join(parts).replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


# --- disabled departments (issue 16): what scheduler nodes must not run ---------------------------------

_disabled_lock = threading.Lock()
_disabled_cache: tuple[float, frozenset[int]] | None = None


def department_parents() -> dict[int, int | None]:
    """Every department's parent id (one query)."""
    return dict(Department.objects.values_list("id", "parent_id"))


def ancestry(department_id: int, parents: dict[int, int | None]) -> tuple[int, ...]:
    """The department and its ancestors, nearest first, from :func:`department_parents` (a corrupted cycle
    ends the walk)."""
    path: list[int] = []
    current: int | None = department_id
    while current is not None and current not in path:
        path.append(current)
        current = parents.get(current)
    return tuple(path)


def disabled_department_ids(*, max_age: float = 5.0) -> frozenset[int]:
    """Ids of every disabled department and of everything below one (a disabled department disables its
    subtree), read at most every ``max_age`` seconds per process (one query over ``department``).

    Scheduler nodes exclude tasks of these departments from their claims and manual triggers; a status change
    made in this process clears the cache at once (:func:`disabled_department_ids_clear`)."""
    global _disabled_cache
    now = time.monotonic()
    with _disabled_lock:
        cached = _disabled_cache
    if cached is not None and now - cached[0] < max_age:
        return cached[1]
    rows = list(Department.objects.values_list("id", "parent_id", "status"))
    children: dict[int | None, list[int]] = {}
    for dept_id, parent_id, _ in rows:
        children.setdefault(parent_id, []).append(dept_id)
    stack = [dept_id for dept_id, _, status in rows if status == 0]
    disabled: set[int] = set(stack)
    while stack:
        for child in children.get(stack.pop(), ()):
            if child not in disabled:
                disabled.add(child)
                stack.append(child)
    result = frozenset(disabled)
    with _disabled_lock:
        _disabled_cache = (now, result)
    return result


def disabled_department_ids_clear() -> None:
    global _disabled_cache
    with _disabled_lock:
        _disabled_cache = None


def department_tree(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Nest serialized rows under their parents; rows whose parent is not visible become roots."""
    by_id = {row["id"]: {**row, "children": []} for row in rows}
    roots = []
    for row in by_id.values():
        parent = by_id.get(row["parentId"])
        (parent["children"] if parent else roots).append(row)
    return roots
