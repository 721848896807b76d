"""Pure scheduling decisions: which instants a claim covers, misfire handling, idempotency keys.

No I/O here, so every rule is unit-testable and identical on every node.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from apps.tasks.models import MisfirePolicy, TaskStatus
from apps.tasks.schedule import Schedule

MAX_FIRE_ALL = 100
MAX_FIRES_PER_CLAIM = 1000


@dataclass(frozen=True)
class ClaimPlan:
    """What one claim of a task decides: the instants to fire, and the row's new state."""

    fires: list[datetime]        # scheduled instants to record and run (UTC)
    catch_up: bool               # True: misfire catch-up runs, started at once rather than at their instant
    next_execute_time: datetime | None
    last_execute_time: datetime | None
    status: int
    missed: int                  # fire times dropped by the misfire policy (counted up to MAX_FIRE_ALL)


def plan_claim(*, schedule: Schedule, due: datetime, now: datetime, horizon: datetime, status: int,
               misfire_policy: str, misfire_threshold: float) -> ClaimPlan:
    """Fires covered by claiming a task whose ``next_execute_time`` is ``due`` (<= ``horizon``).

    * On time: every fire instant in [due, horizon] is claimed at once (a task firing every second is
      claimed once per poll, not once per fire); the nodes then wait for each exact instant.
    * Misfire (``due`` older than the threshold, e.g. after downtime): ``skip`` jumps to the next future
      time; ``fire_once`` runs once now for the latest missed instant; ``fire_all`` runs each missed
      instant (the latest :data:`MAX_FIRE_ALL`) now.
    * One-shot tasks (status 2) fire once and become disabled.
    """
    fires: list[datetime] = []
    missed = 0
    catch_up = False
    if (now - due).total_seconds() > misfire_threshold:
        missed_times = _missed(schedule, due, now)
        if misfire_policy == MisfirePolicy.FIRE_ONCE:
            fires, missed = missed_times[-1:], len(missed_times) - 1
        elif misfire_policy == MisfirePolicy.FIRE_ALL:
            fires, missed = missed_times[-MAX_FIRE_ALL:], 0
        else:
            missed = len(missed_times)
        catch_up = True
        following = schedule.next_after(now)
    else:
        instant: datetime | None = due
        while instant is not None and instant <= horizon and len(fires) < MAX_FIRES_PER_CLAIM:
            fires.append(instant)
            if status == TaskStatus.ONE_SHOT:
                instant = None
                break
            instant = schedule.next_after(instant)
        following = instant
    if status == TaskStatus.ONE_SHOT and (fires or catch_up):
        return ClaimPlan(fires[:1], catch_up, None, fires[0] if fires else None, TaskStatus.DISABLED, missed)
    return ClaimPlan(fires, catch_up, following, fires[-1] if fires else None, status, missed)


def _missed(schedule: Schedule, due: datetime, now: datetime) -> list[datetime]:
    """The latest MAX_FIRE_ALL instants in [due, now], with bounded work even after a long outage.

    A window ending at ``now`` grows (doubling) until it holds enough instants or reaches ``due``, so an
    every-second task down for a week costs a few hundred evaluations, not 600,000.
    """
    window = max(1, schedule.granularity_seconds) * (MAX_FIRE_ALL + 1)
    while True:
        start = max(due, now - timedelta(seconds=window))
        times: list[datetime] = []
        instant: datetime | None = start if start == due else schedule.next_after(start)
        while instant is not None and instant <= now:
            times.append(instant)
            instant = schedule.next_after(instant)
        if len(times) >= MAX_FIRE_ALL or start == due:
            return times[-MAX_FIRE_ALL:] if start != due else times
        window *= 2


def idempotency_key(task_id: int, scheduled: datetime, shard: int | None = None) -> str:
    """Same for every retry and fallback of one fire (and a RECOVERY re-run of it); a broadcast shard's ends in
    ``-s<shard>`` (each instance gets its own execution)."""
    key = f"djs-{task_id}-{int(scheduled.timestamp() * 1000)}"
    return key if shard is None else f"{key}-s{shard}"
