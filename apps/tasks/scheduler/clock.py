"""The scheduler's wall clock (one place, so a test can move it for every module at once)."""
from __future__ import annotations

from datetime import datetime, timezone


def utcnow() -> datetime:
    return datetime.now(timezone.utc)
