"""data.DataService: history, users, departments, statistics, each limited to the caller's department scope."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import grpc
import pytest
from django.utils import timezone as django_timezone

from apps.records.models import RecordStatus
from rpc.generated import data_pb2 as pb
from rpc.servicers.data import month_start
from rpc.tests.conftest import fails
from tests.factories import TaskFactory

pytestmark = pytest.mark.django_db(transaction=True)
UTC = timezone.utc


def at(day: int, month: int = 3, hour: int = 12) -> datetime:
    return datetime(2025, month, day, hour, tzinfo=UTC)


# --- GetTaskHistory ----------------------------------------------------------------------------------

@pytest.fixture
def history(org, make_record):
    task = TaskFactory(department=org.a, name="exporter", status=0)
    rows = [make_record(task, scheduled=at(day), cost=day * 10, retry_times=day % 2) for day in range(1, 5)]
    rows.append(make_record(task, scheduled=at(5), status=RecordStatus.FAILED, error="HTTP 500", response="boom",
                            trigger="MANUAL"))
    sibling = make_record(TaskFactory(department=org.a1, name="child", status=0), scheduled=at(6))
    foreign = make_record(TaskFactory(department=org.b, name="foreign", status=0), scheduled=at(6))
    return task, rows, sibling, foreign


def test_history_of_one_task_newest_first(rpc, org, history):
    task, rows, _, _ = history
    reader = org.member(org.a, {"record:view"})  # records need record:view only
    reply = rpc(reader).data.GetTaskHistory(pb.TaskHistoryRequest(task_id=task.pk, year=2025, month=3))
    assert reply.success and reply.total == 5
    assert [r.id for r in reply.records] == [r.pk for r in reversed(rows)]
    failed = reply.records[0]
    assert (failed.task_id, failed.task_name, failed.success, failed.status, failed.status_code, failed.error,
            failed.response, failed.trigger_type) == (task.pk, "exporter", False, 2, 500, "HTTP 500", "boom", "MANUAL")
    first = reply.records[-1]
    assert (first.success, first.status, first.cost_time, first.retry_times, first.execute_time,
            first.scheduled_time) == (True, 1, 10, 1, "2025-03-01T12:00:00Z", "2025-03-01T12:00:00Z")


def test_history_paging_and_time_window(rpc, org, history):
    task, rows, _, _ = history
    client = rpc(org.member(org.a, {"record:view"}))
    page = client.data.GetTaskHistory(pb.TaskHistoryRequest(task_id=task.pk, year=2025, month=3, limit=2, offset=1))
    assert page.total == 5 and [r.id for r in page.records] == [rows[3].pk, rows[2].pk]
    window = client.data.GetTaskHistory(pb.TaskHistoryRequest(
        task_id=task.pk, year=2025, month=3, start_time="2025-03-02T00:00:00Z", end_time="2025-03-04T00:00:00"))
    assert window.total == 2 and [r.id for r in window.records] == [rows[2].pk, rows[1].pk]
    offset = client.data.GetTaskHistory(pb.TaskHistoryRequest(
        task_id=task.pk, year=2025, month=3, start_time="2025-03-02T20:00:00+08:00"))  # = 12:00Z: included
    assert offset.total == 4


def test_history_of_all_tasks_in_scope(rpc, org, history):
    task, rows, sibling, foreign = history
    reply = rpc(org.member(org.a, {"record:view"})).data.GetTaskHistory(
        pb.TaskHistoryRequest(year=2025, month=3, limit=100))
    ids = {r.id for r in reply.records}
    assert ids == {r.pk for r in rows} | {sibling.pk} and foreign.pk not in ids
    assert reply.total == 6


def test_history_defaults_to_the_current_month(rpc, org, make_record):
    task = TaskFactory(department=org.a, status=0)
    now_row = make_record(task, scheduled=month_start(django_timezone.now()))
    make_record(task, scheduled=at(1))
    reply = rpc(org.admin).data.GetTaskHistory(pb.TaskHistoryRequest(task_id=task.pk))
    assert [r.id for r in reply.records] == [now_row.pk]


def test_history_of_a_month_without_records_is_empty(rpc, org):
    task = TaskFactory(department=org.a, status=0)
    reply = rpc(org.admin).data.GetTaskHistory(pb.TaskHistoryRequest(task_id=task.pk, year=1999, month=1))
    assert (reply.success, reply.total, list(reply.records)) == (True, 0, [])


@pytest.mark.parametrize("fields, message", [
    ({"year": 2025}, "month: give year and month together (or neither)"),
    ({"month": 3}, "year: give year and month together (or neither)"),
    ({"year": 2025, "month": 13}, "month: must be between 1 and 12"),
    ({"year": 1969, "month": 1}, "year: must be between 1970 and 9999"),
    ({"limit": 101}, "limit: must be between 1 and 100 (0 = 20)"),
    ({"limit": -1}, "limit: must be between 1 and 100 (0 = 20)"),
    ({"offset": -1}, "offset: must be 0 or more"),
    ({"start_time": "yesterday"}, "start_time: must be an ISO-8601 time such as 2026-05-01T08:00:00Z"),
    ({"end_time": "2025-02-30T00:00:00Z"}, "end_time: must be an ISO-8601 time such as 2026-05-01T08:00:00Z"),
    ({"start_time": "2025-03-02T00:00:00Z", "end_time": "2025-03-01T00:00:00Z"}, "end_time: must be after start_time"),
    ({"task_id": -1}, "task_id: must be a positive id, or 0 for none"),
])
def test_history_bad_input(rpc, org, fields, message):
    err = fails(grpc.StatusCode.INVALID_ARGUMENT,
                lambda: rpc(org.admin).data.GetTaskHistory(pb.TaskHistoryRequest(**fields)))
    assert err.details() == message


def test_history_needs_record_view_and_an_existing_task(rpc, org):
    task = TaskFactory(department=org.a, status=0)
    viewer = rpc(org.member(org.a, {"task:view"}))
    assert fails(grpc.StatusCode.PERMISSION_DENIED, lambda: viewer.data.GetTaskHistory(
        pb.TaskHistoryRequest(task_id=task.pk))).details() == "permission denied: requires record:view"
    assert fails(grpc.StatusCode.NOT_FOUND, lambda: rpc(org.admin).data.GetTaskHistory(
        pb.TaskHistoryRequest(task_id=10**12))).details() == "task not found"


# --- GetUserList -------------------------------------------------------------------------------------

def test_user_list_in_scope_with_department_filter_and_pages(rpc, org):
    manager = org.member(org.a, {"user:manage"}, email="m@example.com")
    child = org.member(org.a1, {"task:view"})
    foreign = org.member(org.b)
    client = rpc(manager)
    reply = client.data.GetUserList(pb.UserListRequest(size=100))
    ids = [u.id for u in reply.users]
    assert ids == [manager.pk, child.pk] and reply.total == 2 and foreign.pk not in ids
    me = reply.users[0]
    assert (me.username, me.real_name, me.email, me.department_id, me.department_name, me.role_id, me.role_name,
            me.status) == (manager.username, manager.real_name, "m@example.com", org.a.pk, "A", manager.role_id,
                           manager.role.name, 1)
    assert me.create_time.endswith("Z") and me.phone == manager.phone
    only_a1 = client.data.GetUserList(pb.UserListRequest(department_id=org.a1.pk))
    assert [u.id for u in only_a1.users] == [child.pk]
    second = client.data.GetUserList(pb.UserListRequest(page=2, size=1))
    assert [u.id for u in second.users] == [child.pk] and second.total == 2
    assert list(client.data.GetUserList(pb.UserListRequest(page=3, size=1)).users) == []


def test_user_list_errors(rpc, org):
    manager = rpc(org.member(org.a, {"user:manage"}))
    for department_id in (org.b.pk, org.hq.pk, 10**12):
        err = fails(grpc.StatusCode.NOT_FOUND,
                    lambda: manager.data.GetUserList(pb.UserListRequest(department_id=department_id)))
        assert err.details() == "department not found"
    fails(grpc.StatusCode.INVALID_ARGUMENT, lambda: manager.data.GetUserList(pb.UserListRequest(size=101)))
    fails(grpc.StatusCode.INVALID_ARGUMENT, lambda: manager.data.GetUserList(pb.UserListRequest(page=-1)))
    plain = rpc(org.member(org.a, {"task:view"}))
    fails(grpc.StatusCode.PERMISSION_DENIED, lambda: plain.data.GetUserList(pb.UserListRequest()))
    fails(grpc.StatusCode.PERMISSION_DENIED, lambda: plain.data.GetUserList(pb.UserListRequest(department_id=org.b.pk)))


# --- GetDepartmentList -------------------------------------------------------------------------------

def test_department_list_is_the_callers_subtree(rpc, org):
    reply = rpc(org.member(org.a, set())).data.GetDepartmentList(pb.DepartmentListRequest())
    assert [(d.id, d.name, d.parent_id) for d in reply.departments] == [(org.a.pk, "A", org.hq.pk),
                                                                        (org.a1.pk, "A1", org.a.pk)]
    assert reply.total == 2 and reply.departments[0].description == "A description"
    assert reply.departments[0].status == 1 and reply.departments[0].create_time.endswith("Z")
    everything = rpc(org.admin).data.GetDepartmentList(pb.DepartmentListRequest(size=100))
    top = everything.departments[0]
    assert (top.id, top.parent_id) == (org.hq.pk, 0)
    assert {d.id for d in everything.departments} >= {org.hq.pk, org.a.pk, org.a1.pk, org.b.pk}
    page = rpc(org.member(org.a, set())).data.GetDepartmentList(pb.DepartmentListRequest(page=2, size=1))
    assert [d.id for d in page.departments] == [org.a1.pk] and page.total == 2
    fails(grpc.StatusCode.INVALID_ARGUMENT,
          lambda: rpc(org.admin).data.GetDepartmentList(pb.DepartmentListRequest(size=1000)))


# --- GetTaskStatistics -------------------------------------------------------------------------------

@pytest.fixture
def statistics(org, make_record):
    a_task, a1_task, b_task = (TaskFactory(department=d, status=0) for d in (org.a, org.a1, org.b))
    costs = []
    for day in range(1, 11):
        make_record(a_task, scheduled=at(day), cost=day * 10)
        costs.append(day * 10)
    make_record(a_task, scheduled=at(11), status=RecordStatus.FAILED, cost=500)
    make_record(a1_task, scheduled=at(2, month=4), status=RecordStatus.FAILED, cost=2000)
    make_record(a1_task, scheduled=at(3, month=4), status=RecordStatus.KILLED, cost=3000)
    make_record(a1_task, scheduled=at(4, month=4), status=RecordStatus.SKIPPED, cost=None)
    make_record(a1_task, scheduled=at(5, month=4), status=RecordStatus.LOST, cost=None)
    make_record(a1_task, scheduled=at(6, month=4), status=RecordStatus.RUNNING, cost=None)
    make_record(b_task, scheduled=at(2), cost=99999, status=RecordStatus.FAILED)
    make_record(a_task, scheduled=at(1, month=6), cost=7)  # outside the window
    costs += [500, 2000, 3000]
    return a_task, a1_task, b_task, sorted(costs)


def p95(costs: list[int]) -> int:
    return costs[-(-95 * len(costs) // 100) - 1]


def test_statistics_over_a_window_spanning_two_months(rpc, org, statistics):
    _, _, _, costs = statistics
    reader = rpc(org.member(org.a, {"record:view"}))
    reply = reader.data.GetTaskStatistics(pb.TaskStatisticsRequest(start_time="2025-03-01T00:00:00Z",
                                                                    end_time="2025-05-01T00:00:00Z"))
    assert reply.success and reply.task_count == 2  # A's and A1's, never B's
    stats = dict(reply.execution_stats)
    # p95 from the rollups' cost histogram: within 5 % of the exact nearest rank (docs/records.md)
    assert stats.pop("p95CostTime") == pytest.approx(p95(costs), rel=0.05)
    assert stats == {"total": 16, "success": 10, "failed": 2, "killed": 1, "skipped": 1, "lost": 1, "running": 1}
    assert p95(costs) == 3000
    assert reply.success_rate == pytest.approx(10 / 12, abs=1e-4)
    assert reply.avg_execution_time == pytest.approx(sum(costs) / len(costs), abs=0.1)
    assert reply.message == "2025-03-01T00:00:00Z .. 2025-05-01T00:00:00Z (whole days, UTC)"


def test_a_window_inside_days_is_widened_to_whole_days_and_says_so(rpc, org, statistics):
    """Figures come from day rollups: 10:00 on March 1st to 03:00 on March 2nd counts both whole days."""
    reader = rpc(org.member(org.a, {"record:view"}))
    reply = reader.data.GetTaskStatistics(pb.TaskStatisticsRequest(start_time="2025-03-01T10:00:00Z",
                                                                    end_time="2025-03-02T03:00:00Z"))
    assert dict(reply.execution_stats)["total"] == 2  # the records of March 1st and 2nd, 12:00 each
    assert reply.message == "2025-03-01T00:00:00Z .. 2025-03-03T00:00:00Z (whole days, UTC)"


def test_statistics_of_one_department(rpc, org, statistics):
    reader = rpc(org.member(org.a, {"record:view"}))
    reply = reader.data.GetTaskStatistics(pb.TaskStatisticsRequest(
        department_id=org.a1.pk, start_time="2025-03-01T00:00:00Z", end_time="2025-05-01T00:00:00Z"))
    assert reply.task_count == 1
    assert dict(reply.execution_stats)["total"] == 5 and reply.success_rate == 0.0
    assert reply.avg_execution_time == pytest.approx(2500.0)
    empty = reader.data.GetTaskStatistics(pb.TaskStatisticsRequest(
        department_id=org.a1.pk, start_time="2024-03-01T00:00:00Z", end_time="2024-04-01T00:00:00Z"))
    assert dict(empty.execution_stats) == {"total": 0, "success": 0, "failed": 0, "killed": 0, "skipped": 0,
                                           "lost": 0, "running": 0}
    assert (empty.success_rate, empty.avg_execution_time) == (0.0, 0.0)


def test_statistics_default_to_the_current_month(rpc, org, make_record):
    task = TaskFactory(department=org.a, status=0)
    make_record(task, scheduled=month_start(django_timezone.now()), cost=42)
    make_record(task, scheduled=month_start(django_timezone.now()) - timedelta(seconds=1), cost=1)
    reply = rpc(org.member(org.a, {"record:view"})).data.GetTaskStatistics(pb.TaskStatisticsRequest())
    assert dict(reply.execution_stats)["total"] == 1 and reply.avg_execution_time == 42.0


@pytest.mark.parametrize("fields, message", [
    ({"start_time": "2024-01-01T00:00:00Z", "end_time": "2025-03-01T00:00:00Z"},
     "start_time: the window may span at most 366 days"),
    ({"start_time": "2025-03-02T00:00:00Z", "end_time": "2025-03-01T00:00:00Z"}, "end_time: must be after start_time"),
    ({"start_time": "2999-01-01T00:00:00Z"}, "start_time: must be before end_time (default: now)"),
    ({"end_time": "soon"}, "end_time: must be an ISO-8601 time such as 2026-05-01T08:00:00Z"),
    ({"department_id": -2}, "department_id: must be a positive id, or 0 for none"),
])
def test_statistics_bad_input(rpc, org, fields, message):
    err = fails(grpc.StatusCode.INVALID_ARGUMENT,
                lambda: rpc(org.admin).data.GetTaskStatistics(pb.TaskStatisticsRequest(**fields)))
    assert err.details() == message


def test_statistics_need_record_view_and_a_department_in_scope(rpc, org):
    fails(grpc.StatusCode.PERMISSION_DENIED, lambda: rpc(org.member(org.a, {"task:view"})).data.GetTaskStatistics(
        pb.TaskStatisticsRequest()))
    reader = rpc(org.member(org.a, {"record:view"}))
    for department_id in (org.b.pk, org.hq.pk, 10**12):
        err = fails(grpc.StatusCode.NOT_FOUND, lambda: reader.data.GetTaskStatistics(
            pb.TaskStatisticsRequest(department_id=department_id)))
        assert err.details() == "department not found"


# --- GetStatistics (the seed's RPC table: department_id, period) ---------------------------------------------

@pytest.mark.parametrize("zone, now, starts", [
    ("UTC", datetime(2026, 3, 5, 10, tzinfo=UTC), {"day": "2026-03-05T00:00:00+00:00",
                                                   "week": "2026-02-27T00:00:00+00:00",
                                                   "month": "2026-03-01T00:00:00+00:00",
                                                   "year": "2025-04-01T00:00:00+00:00"}),
    # 20:00 UTC on March 31st is already April 1st in Shanghai: its day, week, month and year are April's
    ("Asia/Shanghai", datetime(2026, 3, 31, 20, tzinfo=UTC), {"day": "2026-04-01T00:00:00+08:00",
                                                              "week": "2026-03-26T00:00:00+08:00",
                                                              "month": "2026-04-01T00:00:00+08:00",
                                                              "year": "2025-05-01T00:00:00+08:00"}),
    ("UTC", datetime(2026, 1, 1, 0, 0, 1, tzinfo=UTC), {"day": "2026-01-01T00:00:00+00:00",
                                                        "week": "2025-12-26T00:00:00+00:00",
                                                        "month": "2026-01-01T00:00:00+00:00",
                                                        "year": "2025-02-01T00:00:00+00:00"}),
])
def test_statistics_periods_are_whole_local_days_ending_today(settings, zone, now, starts):
    from apps.records.selectors import period_start

    settings.TIME_ZONE = zone
    assert {period: period_start(period, now).isoformat() for period in starts} == starts


@pytest.fixture
def recent(org, make_record):
    """Records at the start of each period (and one just before the year): what each period counts."""
    from apps.records.selectors import period_start

    now = django_timezone.now()
    a_task, a1_task, b_task = (TaskFactory(department=d, status=0) for d in (org.a, org.a1, org.b))
    rows = [  # (task, scheduled, status, cost)
        (a_task, period_start("day", now), RecordStatus.SUCCESS, 10),
        (a_task, period_start("week", now), RecordStatus.FAILED, 30),
        (a1_task, period_start("month", now), RecordStatus.SUCCESS, 50),
        (a1_task, period_start("year", now), RecordStatus.FAILED, 70),
        (a_task, period_start("year", now) - timedelta(seconds=1), RecordStatus.SUCCESS, 9000),
        (b_task, period_start("day", now), RecordStatus.SUCCESS, 5000),
    ]
    for task, scheduled, status, cost in rows:
        make_record(task, scheduled=scheduled, status=status, cost=cost)
    return now, rows


def expected(org, rows, period: str, now, departments) -> tuple[float, float]:
    from apps.records.selectors import period_start

    inside = [(status, cost) for task, scheduled, status, cost in rows
              if scheduled >= period_start(period, now) and task.department_id in departments]
    finished = [s for s, _ in inside if s in (RecordStatus.SUCCESS, RecordStatus.FAILED)]
    rate = round(finished.count(RecordStatus.SUCCESS) / len(finished), 4) if finished else 0.0
    return rate, round(sum(c for _, c in inside) / len(inside), 1) if inside else 0.0


@pytest.mark.parametrize("period", ["day", "week", "month", "year", ""])
def test_statistics_of_a_period_over_the_caller_s_scope(rpc, org, recent, period):
    now, rows = recent
    reply = rpc(org.member(org.a, {"record:view"})).data.GetStatistics(pb.StatisticsRequest(period=period))
    assert reply.success and reply.task_count == 2  # A's and A1's tasks, never B's
    rate, average = expected(org, rows, period or "month", now, {org.a.pk, org.a1.pk})
    assert (reply.success_rate, reply.avg_execution_time) == (pytest.approx(rate), pytest.approx(average))
    assert reply.message.startswith(f"{period or 'month'}: ") and reply.message.endswith("(whole days, UTC)")


def test_statistics_of_one_department_and_the_window_named(rpc, org, recent):
    now, rows = recent
    reader = rpc(org.member(org.a, {"record:view"}))
    reply = reader.data.GetStatistics(pb.StatisticsRequest(department_id=org.a1.pk, period="YEAR"))
    assert reply.task_count == 1
    assert (reply.success_rate, reply.avg_execution_time) == (0.5, 60.0)
    from apps.records.selectors import period_start

    day_after = (now + timedelta(days=1)).date().isoformat()
    assert reply.message == (f"year: {period_start('year', now).isoformat().replace('+00:00', 'Z')} .. "
                             f"{day_after}T00:00:00Z (whole days, UTC)")
    empty = rpc(org.member(org.b, {"record:view"})).data.GetStatistics(pb.StatisticsRequest(period="week"))
    assert empty.task_count == 1 and empty.avg_execution_time == 5000.0


@pytest.mark.parametrize("fields, message", [
    ({"period": "quarter"}, "period: must be day, week, month or year (empty = month)"),
    ({"period": "daily"}, "period: must be day, week, month or year (empty = month)"),
    ({"department_id": -1}, "department_id: must be a positive id, or 0 for none"),
])
def test_statistics_refuse_an_unknown_period(rpc, org, fields, message):
    err = fails(grpc.StatusCode.INVALID_ARGUMENT,
                lambda: rpc(org.admin).data.GetStatistics(pb.StatisticsRequest(**fields)))
    assert err.details() == message


def test_get_statistics_needs_record_view_and_a_department_in_scope(rpc, org):
    fails(grpc.StatusCode.PERMISSION_DENIED, lambda: rpc(org.member(org.a, {"task:view"})).data.GetStatistics(
        pb.StatisticsRequest()))
    reader = rpc(org.member(org.a, {"record:view"}))
    for department_id in (org.b.pk, org.hq.pk, 10**12):
        err = fails(grpc.StatusCode.NOT_FOUND, lambda: reader.data.GetStatistics(
            pb.StatisticsRequest(department_id=department_id, period="day")))
        assert err.details() == "department not found"
    fails(grpc.StatusCode.UNAUTHENTICATED, lambda: rpc().data.GetStatistics(pb.StatisticsRequest()))
