"""Pure claim planning: lookahead batching, misfire policies, one-shot, idempotency keys."""
from datetime import datetime, timedelta, timezone

from apps.tasks.engine import MAX_FIRE_ALL, idempotency_key, plan_claim
from apps.tasks.schedule import parse_schedule

UTC = timezone.utc
NOW = datetime(2026, 5, 10, 12, 0, 0, tzinfo=UTC)


def plan(cron="* * * * * *", due=NOW, status=1, policy="skip", horizon=2, threshold=60):
    return plan_claim(schedule=parse_schedule(cron, "UTC"), due=due, now=NOW, horizon=NOW + timedelta(seconds=horizon),
                      status=status, misfire_policy=policy, misfire_threshold=threshold)


def test_on_time_claim_covers_every_instant_up_to_the_horizon():
    p = plan(due=NOW + timedelta(seconds=1))
    assert p.fires == [NOW + timedelta(seconds=1), NOW + timedelta(seconds=2)]
    assert p.next_execute_time == NOW + timedelta(seconds=3) and p.last_execute_time == p.fires[-1]
    assert not p.catch_up and p.status == 1


def test_a_late_but_not_misfired_fire_still_runs_at_its_instant():
    p = plan(due=NOW - timedelta(seconds=30), cron="30 59 11 * * *", horizon=1)
    assert p.fires == [NOW - timedelta(seconds=30)] and not p.catch_up


def test_misfire_skip_jumps_to_the_next_future_time():
    p = plan(cron="* * * * *", due=NOW - timedelta(hours=2))
    assert p.fires == [] and p.next_execute_time == NOW + timedelta(minutes=1)
    assert p.missed == MAX_FIRE_ALL  # 121 were missed; counting stops at the bound (bounded work)


def test_misfire_fire_once_runs_the_latest_missed_instant():
    p = plan(cron="*/10 * * * *", due=NOW - timedelta(hours=1), policy="fire_once")
    assert p.fires == [NOW] and p.catch_up and p.missed == 6


def test_misfire_fire_all_is_bounded_to_the_latest_100():
    p = plan(cron="* * * * * *", due=NOW - timedelta(days=7), policy="fire_all")
    assert len(p.fires) == MAX_FIRE_ALL and p.fires[-1] == NOW
    assert p.fires[0] == NOW - timedelta(seconds=MAX_FIRE_ALL - 1)


def test_misfire_fire_all_of_a_sparse_schedule_finds_every_missed_instant():
    p = plan(cron="0 0 1 * *", due=datetime(2026, 1, 1, tzinfo=UTC), policy="fire_all")
    assert [f.month for f in p.fires] == [1, 2, 3, 4, 5]


def test_one_shot_fires_once_and_disables():
    p = plan(due=NOW + timedelta(seconds=1), status=2)
    assert p.fires == [NOW + timedelta(seconds=1)] and p.status == 0 and p.next_execute_time is None


def test_idempotency_key_is_task_and_epoch_millis():
    assert idempotency_key(42, NOW) == f"djs-42-{int(NOW.timestamp()) * 1000}"
