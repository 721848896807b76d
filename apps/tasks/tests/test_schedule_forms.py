"""Seed 001's schedule forms in `cron` (issue 18 item 7, DESIGN §14.4): a bare duration (`30s`, `5m`, `1h`,
`1h30m`, the same as `@every <d>`) and a daily time `HH:MM` in the task's zone with the DST rule of §6.

Checked where a user meets them: the REST create/update routes (stored as typed, next fire time), the
cron preview (the DST nights of Berlin), a real scheduler node, and the schedule module itself (exact
messages, agreement with the equivalent cron expression around every DST change the cron tests use)."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from apps.accounts.models import AuditLog
from apps.tasks.models import Task
from apps.tasks.schedule import ScheduleError, parse_schedule
from apps.tasks.tests.cron_oracle import oracle_fires
from apps.tasks.tests.test_schedule import DST_ZONES, _windows, fires_until
from apps.tasks.tests.test_tasks_api import http_body
from tests.factories import TaskFactory
from tests.scheduling import finished, wait_until

DURATIONS = [("30s", "@every 30s", 30), ("5m", "@every 5m", 300), ("1h", "@every 1h", 3600),
             ("1h30m", "@every 1h30m", 5400)]
DAILY = [("02:00", "0 2 * * *"), ("14:30", "30 14 * * *"), ("2:05", "5 2 * * *"), ("00:00", "0 0 * * *"),
         ("23:59", "59 23 * * *"), ("07:15:30", "30 15 7 * * *")]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def assert_first_aligned_fire(task: Task, seconds: int) -> None:
    """``@every`` semantics: the task is due at the first epoch-aligned multiple of ``seconds`` after it was
    saved (the service computed it a moment before ``create_time``)."""
    due = task.next_execute_time
    assert due.timestamp() % seconds == 0
    assert due - timedelta(seconds=seconds) <= task.create_time < due + timedelta(seconds=1)


def preview(api, cron: str, tz: str, start: str, count: int = 3):
    return api.get("tasks/cron-preview", cron=cron, timezone=tz, count=count, **{"from": start})


# --- the defect as reported: `30s` refused as cron ------------------------------------------------------

def test_seed_duration_30s_is_accepted_as_cron_and_stored_as_typed(admin_api, org):
    data = admin_api.post("tasks/http", http_body(org.a, cron="30s", timezone="UTC")).expect(0).data
    assert data["cron"] == "30s"  # the console shows what the user typed
    assert Task.objects.get(pk=data["id"]).cron_expression == "30s"
    assert_first_aligned_fire(Task.objects.get(pk=data["id"]), 30)


# --- REST: create, update, preview ---------------------------------------------------------------------

@pytest.mark.parametrize("form, every, seconds", DURATIONS)
def test_bare_duration_fires_like_every(admin_api, org, form, every, seconds):
    data = admin_api.post("tasks/http", http_body(org.a, cron=f"  {form} ", timezone="Asia/Shanghai")).expect(0).data
    assert data["cron"] == form  # trimmed, otherwise as typed
    assert_first_aligned_fire(Task.objects.get(pk=data["id"]), seconds)
    start = "2025-03-30T00:59:59Z"
    bare = preview(admin_api, form, "Europe/Berlin", start, 5).expect(0).data
    assert bare["cron"] == form
    assert bare["list"] == preview(admin_api, every, "Europe/Berlin", start, 5).expect(0).data["list"]
    first = datetime.fromisoformat(bare["list"][0]["utc"].replace("Z", "+00:00"))
    assert first.timestamp() % seconds == 0  # epoch-aligned, as @every


@pytest.mark.parametrize("form, cron", DAILY)
def test_daily_time_fires_once_a_day_at_that_local_time(admin_api, org, form, cron):
    data = admin_api.post("tasks/http", http_body(org.a, cron=form, timezone="Asia/Shanghai")).expect(0).data
    assert data["cron"] == form
    start = "2026-01-10T12:00:00Z"
    listed = preview(admin_api, form, "Asia/Shanghai", start, 4).expect(0).data["list"]
    assert listed == preview(admin_api, cron, "Asia/Shanghai", start, 4).expect(0).data["list"]
    hours, minutes = form.split(":")[:2]
    assert all(row["local"][11:16] == f"{int(hours):02d}:{minutes}" and row["local"].endswith("+08:00")
               for row in listed)
    task = Task.objects.get(pk=data["id"])
    assert task.next_execute_time == parse_schedule(cron, "Asia/Shanghai").next_after(task.create_time)


def test_daily_time_on_berlin_spring_forward_fires_at_the_first_instant_after_the_gap(admin_api):
    # 2025-03-30: 02:00 CET jumps to 03:00 CEST, so 02:30 does not exist that night (DESIGN §6, docs/cron.md)
    data = preview(admin_api, "02:30", "Europe/Berlin", "2025-03-29T12:00:00Z").expect(0).data
    assert [row["local"] for row in data["list"]] == [
        "2025-03-30T03:00:00+02:00", "2025-03-31T02:30:00+02:00", "2025-04-01T02:30:00+02:00"]
    assert data["list"][0]["utc"] == "2025-03-30T01:00:00Z"
    # 02:00 itself is swallowed too; 03:00 exists and fires once
    assert [row["local"] for row in preview(admin_api, "02:00", "Europe/Berlin", "2025-03-29T12:00:00Z", 2)
            .expect(0).data["list"]] == ["2025-03-30T03:00:00+02:00", "2025-03-31T02:00:00+02:00"]
    assert [row["local"] for row in preview(admin_api, "03:00", "Europe/Berlin", "2025-03-29T12:00:00Z", 2)
            .expect(0).data["list"]] == ["2025-03-30T03:00:00+02:00", "2025-03-31T03:00:00+02:00"]


def test_daily_time_on_berlin_fall_back_fires_only_in_the_first_occurrence(admin_api):
    # 2025-10-26: 03:00 CEST goes back to 02:00 CET; 02:30 happens twice, the job runs once
    data = preview(admin_api, "02:30", "Europe/Berlin", "2025-10-25T12:00:00Z").expect(0).data
    assert [row["local"] for row in data["list"]] == [
        "2025-10-26T02:30:00+02:00", "2025-10-27T02:30:00+01:00", "2025-10-28T02:30:00+01:00"]
    # asked from inside the second 02:xx, the next run is the next day's
    later = preview(admin_api, "02:30", "Europe/Berlin", "2025-10-26T01:10:00Z", 1).expect(0).data
    assert [row["local"] for row in later["list"]] == ["2025-10-27T02:30:00+01:00"]


def test_a_task_created_with_a_daily_time_computes_its_next_fire_in_its_zone(admin_api, org):
    data = admin_api.post("tasks/http", http_body(org.a, cron="02:30", timezone="Europe/Berlin")).expect(0).data
    task = Task.objects.get(pk=data["id"])
    expected = parse_schedule("30 2 * * *", "Europe/Berlin").next_after(task.create_time)
    assert task.next_execute_time == expected
    assert datetime.fromisoformat(data["nextExecuteTime"].replace("Z", "+00:00")) == expected


def test_update_to_a_short_form_keeps_it_as_typed(admin_api, org):
    created = admin_api.post("tasks/http", http_body(org.a)).expect(0).data
    updated = admin_api.put(f"tasks/http/{created['id']}", http_body(org.a, cron="14:30")).expect(0).data
    assert updated["cron"] == "14:30" and updated["version"] == created["version"] + 1
    assert admin_api.get(f"tasks/{created['id']}").expect(0).data["cron"] == "14:30"


def test_a_declarative_file_with_short_forms_stays_unchanged_on_the_next_apply(admin_api, org):
    """Stored as typed: the file's `cron: "30s"` equals the stored value, so a re-apply changes nothing."""
    entries = [{"type": "HTTP", **http_body(org.a, name=name, cron=cron)} for name, cron in
               (("short-duration", "30s"), ("short-daily", "02:00"))]
    first = admin_api.post("tasks/apply", {"tasks": entries}).expect(0).data
    assert [item["name"] for item in first["created"]] == ["short-duration", "short-daily"]
    again = admin_api.post("tasks/apply", {"tasks": entries}).expect(0).data
    assert (again["created"], again["updated"], len(again["unchanged"])) == ([], [], 2)


INVALID = [
    ("25:00", "daily time '25:00': hour 25 is out of range 0-23"),
    ("24:00", "daily time '24:00': hour 24 is out of range 0-23 (use 00:00)"),
    ("14:60", "daily time '14:60': minute 60 is out of range 0-59"),
    ("14:30:60", "daily time '14:30:60': second 60 is out of range 0-59"),
    ("2:5", "invalid daily time '2:5': use HH:MM (e.g. 02:00, 14:30) or HH:MM:SS"),
    ("1:2:3:4", "invalid daily time '1:2:3:4': use HH:MM (e.g. 02:00, 14:30) or HH:MM:SS"),
    ("0s", "duration must be at least 1s"),
    ("0", "duration must be at least 1s"),
    ("5x", "invalid duration '5x': unknown unit 'x'; use h, m or s"),
    ("1h-3m", "invalid duration '1h-3m' (e.g. 30s, 5m, 1h30m)"),
    ("-5m", "duration '-5m' is negative; it must be at least 1s"),
    ("30", "invalid duration '30': missing unit after 30 (use h, m or s)"),
    ("2d", "invalid duration '2d': unknown unit 'd'; use h, m or s (24h for a day)"),
    ("1.5s", "duration '1.5s' is not a whole number of seconds"),
    ("8785h", "duration '8785h' is longer than the maximum of 366 days (8784h)"),
]


@pytest.mark.parametrize("form, reason", INVALID)
def test_invalid_short_forms_answer_4001_on_cron_and_store_nothing(admin_api, org, form, reason):
    audits = AuditLog.objects.count()
    reply = admin_api.post("tasks/http", http_body(org.a, cron=form)).expect(4001)
    assert reply.data["fields"] == {"cron": [reason]}
    assert reply.message == f"cron: {reason}"
    assert Task.objects.count() == 0 and AuditLog.objects.count() == audits
    previewed = admin_api.get("tasks/cron-preview", cron=form, timezone="Europe/Berlin").expect(4001)
    assert previewed.data["fields"] == {"cron": [reason]}


def test_invalid_short_form_on_update_changes_nothing(admin_api, org):
    created = admin_api.post("tasks/http", http_body(org.a, cron="30s")).expect(0).data
    before = Task.objects.get(pk=created["id"])
    admin_api.put(f"tasks/http/{created['id']}", http_body(org.a, cron="25:00")).expect(4001)
    after = Task.objects.get(pk=created["id"])
    assert (after.cron_expression, after.version, after.next_execute_time) == (
        "30s", before.version, before.next_execute_time)


# --- a real scheduler node -----------------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_a_node_fires_a_bare_duration_task_every_second(node_factory, http_target, department):
    http_target.on("/tick", status=200)
    task = TaskFactory(department=department, url=http_target.url("/tick"), cron_expression="1s", status=1)
    node_factory()
    rows = wait_until(finished(task, 3, "SCHEDULE"), timeout=15)
    times = sorted(r.scheduled_time for r in rows)
    assert all(t.microsecond == 0 for t in times) and len(set(times)) == len(times)
    assert all(r.success for r in rows)


# --- the schedule module -------------------------------------------------------------------------------

@pytest.mark.parametrize("form, every, seconds", DURATIONS + [("90m", "@every 90m", 5400), ("1.5h", "@every 1.5h", 5400),
                                                              ("1h0m30s", "@every 1h0m30s", 3630)])
def test_module_bare_duration_equals_every(form, every, seconds):
    bare, long = parse_schedule(form, "Europe/Berlin"), parse_schedule(every, "Europe/Berlin")
    assert bare.expression == form and bare.granularity_seconds == seconds
    start = utc(2025, 3, 30, 0, 30)
    assert bare.next_n(start, 10) == long.next_n(start, 10)


@pytest.mark.parametrize("form, cron", DAILY)
def test_module_daily_time_equals_its_cron_expression_around_every_dst_change(form, cron):
    for zone in DST_ZONES + ["Asia/Shanghai"]:
        daily, equivalent = parse_schedule(form, zone), parse_schedule(cron, zone)
        assert daily.expression == form and daily.granularity_seconds == 86400
        for centre in _windows(zone):
            start, end = centre - timedelta(days=2), centre + timedelta(days=2)
            assert fires_until(daily, start, end) == fires_until(equivalent, start, end), (form, zone, centre)


def test_module_daily_time_matches_the_brute_force_oracle_on_berlin_dst_days():
    for centre in (utc(2025, 3, 30, 1), utc(2025, 10, 26, 1)):
        start, end = centre - timedelta(hours=26), centre + timedelta(hours=26)
        for form, cron in (("02:30", "30 2 * * *"), ("02:00", "0 2 * * *"), ("03:00", "0 3 * * *")):
            assert fires_until(parse_schedule(form, "Europe/Berlin"), start, end) == \
                oracle_fires(cron, "Europe/Berlin", start, end), (form, centre)


@pytest.mark.parametrize("form, reason", INVALID + [
    ("x", "expected 5 fields (minute hour day-of-month month day-of-week) or 6 with seconds first, got 1 "
          "(or a duration such as 30s, a daily time such as 02:00, or a macro such as @daily)"),
    ("02:00 *", "expected 5 fields (minute hour day-of-month month day-of-week) or 6 with seconds first, got 2"),
    ("30s 5m", "expected 5 fields (minute hour day-of-month month day-of-week) or 6 with seconds first, got 2"),
])
def test_module_names_the_problem_of_an_invalid_short_form(form, reason):
    with pytest.raises(ScheduleError) as caught:
        parse_schedule(form, "UTC")
    assert str(caught.value) == reason
