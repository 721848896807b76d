"""Per-node, per-minute execution figures (seed 002's worker stats, ``GET /v1/nodes/stats``).

A node counts what it finishes per wall-clock minute — executions (finished runs, any final status), failures
(status failed), cost sum and count, and a histogram of schedule lag (start minus scheduled time) — and its
heartbeat writes the minutes that changed as absolute values (only that node writes its rows, so a repeated
heartbeat is harmless). Rows are kept 24 hours."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

#: Upper bounds (ms) of the lag histogram's buckets; one more bucket holds everything above the last.
LAG_BOUNDS_MS = (5, 10, 25, 50, 100, 250, 500, 1000, 2000, 5000, 10000, 30000, 60000)
KEEP = timedelta(hours=24)
MIN_WINDOW, MAX_WINDOW = timedelta(minutes=5), timedelta(hours=24)
_WINDOW = re.compile(r"^(?:(\d{1,2})h)?(?:(\d{1,4})m)?$")


@dataclass
class Minute:
    executions: int = 0
    failures: int = 0
    cost_sum: int = 0
    cost_count: int = 0
    lag: list[int] = field(default_factory=lambda: [0] * (len(LAG_BOUNDS_MS) + 1))

    def add(self, *, failed: bool, cost_ms: int | None, lag_ms: float | None) -> None:
        self.executions += 1
        self.failures += int(failed)
        if cost_ms is not None:
            self.cost_sum += int(cost_ms)
            self.cost_count += 1
        if lag_ms is not None:
            self.lag[lag_bucket(lag_ms)] += 1


def lag_bucket(lag_ms: float) -> int:
    for index, bound in enumerate(LAG_BOUNDS_MS):
        if lag_ms <= bound:
            return index
    return len(LAG_BOUNDS_MS)


def lag_p95(histogram: list[int]) -> int | None:
    """The upper bound (ms) of the bucket holding the nearest-rank 95th percentile; a p95 in the overflow bucket
    (above the last bound) reads as the last bound, 60,000 ms."""
    total = sum(histogram)
    if not total:
        return None
    rank, seen = -(-95 * total // 100), 0
    for index, count in enumerate(histogram):
        seen += count
        if seen >= rank:
            return LAG_BOUNDS_MS[min(index, len(LAG_BOUNDS_MS) - 1)]
    return LAG_BOUNDS_MS[-1]


class NodeMinutes:
    """A node's minutes being counted (its event loop only); :meth:`take` hands the changed ones to the heartbeat."""

    def __init__(self) -> None:
        self.minutes: dict[datetime, Minute] = {}
        self.dirty: set[datetime] = set()

    def record(self, now: datetime, *, failed: bool, cost_ms: int | None, lag_ms: float | None) -> None:
        minute = now.replace(second=0, microsecond=0)
        self.minutes.setdefault(minute, Minute()).add(failed=failed, cost_ms=cost_ms, lag_ms=lag_ms)
        self.dirty.add(minute)

    def take(self, now: datetime) -> list[tuple[datetime, Minute]]:
        """The minutes changed since the last call (absolute figures); minutes before the previous one are
        forgotten once handed over (they cannot change any more)."""
        rows = [(minute, self.minutes[minute]) for minute in sorted(self.dirty)]
        self.dirty.clear()
        current = now.replace(second=0, microsecond=0)
        for minute in [m for m in self.minutes if m < current - timedelta(minutes=1)]:
            del self.minutes[minute]
        return rows

    def restore(self, rows: list[tuple[datetime, Minute]]) -> None:
        """A heartbeat that failed: hand the same minutes over next time."""
        for minute, figures in rows:
            self.minutes.setdefault(minute, figures)
            self.dirty.add(minute)


def parse_window(text: str) -> timedelta:
    """``5m`` .. ``24h`` (``90m``, ``1h30m``); ValueError with the rule otherwise."""
    match = _WINDOW.match((text or "").strip())
    if not match or not any(match.groups()):
        raise ValueError("window must look like 5m, 90m, 1h or 1h30m")
    window = timedelta(hours=int(match.group(1) or 0), minutes=int(match.group(2) or 0))
    if not MIN_WINDOW <= window <= MAX_WINDOW:
        raise ValueError("window must be between 5m and 24h")
    return window
