"""Plain-text rendering shared by ``djsctl`` and ``manage.py apply_tasks``: aligned tables, key/value blocks
and the declarative apply report."""
from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

MAX_CELL = 60
TASK_STATUS = {0: "disabled", 1: "enabled", 2: "one-shot"}
RECORD_STATUS = {0: "running", 1: "success", 2: "failed", 3: "killed", 4: "skipped", 5: "lost"}


def cell(value: Any) -> str:
    """One value as table text: times without the ``T``, JSON for structures, long text cut."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (dict, list)):
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    else:
        text = str(value)
    if len(text) >= 20 and text[4:5] == "-" and text[10:11] == "T":
        text = text.replace("T", " ", 1)
    text = " ".join(text.split())  # one line per row
    return text if len(text) <= MAX_CELL else text[:MAX_CELL - 1] + "…"


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    lines = [[str(h) for h in headers]] + [[cell(v) for v in row] for row in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(headers))]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(line, widths)).rstrip() for line in lines)


def key_values(pairs: Iterable[tuple[str, Any]]) -> str:
    """A ``get`` answer: one field a line, values in full (JSON for structures)."""
    pairs = list(pairs)
    width = max((len(k) for k, _ in pairs), default=0)
    out = []
    for key, value in pairs:
        if value is None:
            text = "-"
        elif isinstance(value, bool):
            text = "yes" if value else "no"
        elif isinstance(value, (dict, list)):
            text = json.dumps(value, ensure_ascii=False)
        else:
            text = str(value)
        out.append(f"{key.ljust(width)}  {text}")
    return "\n".join(out)


def apply_report(report: dict[str, Any]) -> str:
    """The report of ``POST /v1/tasks/apply`` (also printed by ``manage.py apply_tasks``)."""
    rows = []
    for action in ("created", "updated", "unchanged", "pruned"):
        for item in report[action]:
            rows.append([action, item["id"], item["name"], f"{item['departmentName']} ({item['departmentId']})",
                         item["taskType"], ", ".join(item["changes"]) or None])
    counts = ", ".join(f"{len(report[a])} {a}" for a in ("created", "updated", "unchanged", "pruned"))
    lines = [table(["ACTION", "ID", "NAME", "DEPARTMENT", "TYPE", "CHANGES"], rows)] if rows else []
    if report["dryRun"]:
        counts += " (dry run: nothing was changed)"
    return "\n".join(lines + [counts])


def error_lines(code: int, message: str, data: Any) -> str:
    """``error 4001: tasks[0].cron: ...`` plus one line per field error."""
    lines = [f"error {code}: {message}"]
    fields = data.get("fields") if isinstance(data, dict) else None
    for name, messages in (fields or {}).items():
        for text in messages if isinstance(messages, list) else [messages]:
            lines.append(f"  {name}: {text}")
    return "\n".join(lines)
