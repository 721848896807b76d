"""Records API: month tables, filters, detail, stats, isolation, retention."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from django.core.management import call_command

from apps.records.models import RecordStatus, existing_record_tables, record_model, table_name
from apps.records.services import records_prune
from conftest import Api
from tests.factories import add_record
from tests.isolation import ACTOR_CODES, TenantIsolationCase

UTC = timezone.utc


def make_record(department, *, year=2026, month=3, day=1, hour=12, task_id=1, status=RecordStatus.SUCCESS,
                cost=100, task_name="t", task_type="HTTP", trigger="SCHEDULE", second=0, **fields):
    scheduled = datetime(year, month, day, hour, 0, second, tzinfo=UTC)
    return add_record(task_id=task_id, task_name=task_name, department_id=department.pk, task_type=task_type,
                      trigger_type=trigger, scheduled_time=scheduled, status=status, cost_time=cost,
                      executor="node-1", **fields)


def test_year_and_month_are_required(admin_api):
    reply = admin_api.get("records").expect(4001)
    assert {"year", "month"} <= set(reply.data["fields"])
    admin_api.get("records", year=2026, month=13).expect(4001)
    admin_api.get("records/stats", year=2026).expect(4001)
    admin_api.get("records/1").expect(4001)


def test_list_filters_and_detail(admin_api, org):
    ok = make_record(org.a, task_id=1)
    bad = make_record(org.a, task_id=2, status=RecordStatus.FAILED, task_type="GRPC", second=1)
    other_month = make_record(org.a, month=4, task_id=1)
    ids = lambda reply: [row["id"] for row in reply.expect(0).data["list"]]  # noqa: E731
    assert ids(admin_api.get("records", year=2026, month=3)) == [bad.pk, ok.pk]
    assert ids(admin_api.get("records", year=2026, month=3, success=1)) == [ok.pk]
    assert ids(admin_api.get("records", year=2026, month=3, success=0)) == [bad.pk]
    assert ids(admin_api.get("records", year=2026, month=3, taskType="GRPC")) == [bad.pk]
    assert ids(admin_api.get("records", year=2026, month=3, taskId=1)) == [ok.pk]
    assert ids(admin_api.get("records", year=2026, month=4)) == [other_month.pk]
    detail = admin_api.get(f"records/{bad.pk}", year=2026, month=3).expect(0).data
    assert (detail["statusCode"], detail["success"], detail["costTime"], detail["triggerType"]) == (
        500, False, 100, "SCHEDULE")
    admin_api.get(f"records/{bad.pk}", year=2026, month=5).expect(4004)


def test_month_without_records_is_an_empty_page(admin_api):
    data = admin_api.get("records", year=1999, month=1).expect(0).data
    assert data == {"list": [], "total": 0, "page": 1, "size": 10, "hasMore": False, "nextCursor": None}
    assert "record_199901" not in existing_record_tables(refresh=True)  # reading never creates tables


def test_stats(admin_api, org):
    for second, cost in enumerate((10, 20, 30, 40, 1000)):
        make_record(org.a, day=2, task_id=7, cost=cost, second=second)
    make_record(org.a, day=3, task_id=8, task_name="bad", status=RecordStatus.FAILED, cost=50)
    make_record(org.a, day=3, task_id=8, task_name="bad", status=RecordStatus.FAILED, cost=60, second=1)
    data = admin_api.get("records/stats", year=2026, month=3).expect(0).data
    assert (data["total"], data["successCount"], data["failCount"]) == (7, 5, 2)
    assert data["successRate"] == round(5 / 7, 4)
    assert data["avgCostTime"] == round((10 + 20 + 30 + 40 + 1000 + 50 + 60) / 7, 1)
    # p95 comes from the rollups' cost histogram: within 5 % (or 1 ms) of the exact nearest rank (docs/records.md)
    assert abs(data["p95CostTime"] - 1000) <= 50
    assert len(data["daily"]) == 31
    assert data["daily"][1] == {"date": "2026-03-02", "total": 5, "success": 5, "failed": 0}
    assert data["daily"][2] == {"date": "2026-03-03", "total": 2, "success": 0, "failed": 2}
    assert data["topFailingTasks"] == [{"taskId": 8, "taskName": "bad", "failures": 2}]
    only = admin_api.get("records/stats", year=2026, month=3, taskId=7).expect(0).data
    assert only["total"] == 5 and only["failCount"] == 0


def test_records_need_record_view(org):
    Api(org.member(org.a, {"task:view"})).get("records", year=2026, month=3).expect(4003)


def test_stats_are_scoped(org):
    make_record(org.a, task_id=1)
    make_record(org.b, task_id=2, second=1)
    data = Api(org.member(org.a, ACTOR_CODES)).get("records/stats", year=2026, month=3).expect(0).data
    assert data["total"] == 1


class TestRecordIsolation(TenantIsolationCase):
    list_path = "records?year=2026&month=3"
    detail_path = "records/{id}?year=2026&month=3"
    model = record_model(2026, 3)

    def make(self, org, department):
        seconds = {"A": 1, "A1": 2, "B": 3}.get(department.name, 4)
        return make_record(department, task_id=department.pk, second=seconds)

    # Records are written by the scheduler only: no create/update/delete routes to check.
    test_update_of_foreign_row_is_not_found_and_changes_nothing = None
    test_delete_of_foreign_row_is_not_found_and_keeps_it = None
    test_create_cannot_target_a_foreign_department = None
    test_create_in_child_department_is_allowed = None

    def test_records_have_no_write_routes(self, org, actor, objects):
        Api(actor).call("DELETE", self.detail_path.format(id=objects["a"].pk)).expect(4005)

    def list_ids(self, reply):
        return {row["id"] for row in reply.data["list"]}


def test_prune_drops_whole_old_month_tables(db):
    from apps.records.models import ensure_record_table

    ensure_record_table(2019, 5)
    dropped = records_prune(keep_months=3, now=datetime(2026, 3, 15, tzinfo=UTC), dry_run=True)
    assert table_name(2019, 5) in dropped and table_name(2026, 1) not in dropped
    assert table_name(2025, 12) in dropped  # keeps 2026-01, 02, 03
    assert table_name(2019, 5) in existing_record_tables(refresh=True)  # dry run


@pytest.mark.django_db(transaction=True)
def test_prune_command_drops_tables(django_db_blocker):
    from apps.records.models import ensure_record_table

    ensure_record_table(2019, 6)
    call_command("prune_records", "--keep-months", "240")
    assert table_name(2019, 6) in existing_record_tables(refresh=True)
    now = datetime.now(UTC)
    keep = (now.year - 2019) * 12 + now.month - 6  # keeps everything after 2019-06
    call_command("prune_records", "--keep-months", str(keep))
    assert table_name(2019, 6) not in existing_record_tables(refresh=True)
    assert table_name(2025, 1) in existing_record_tables(refresh=True)


@pytest.mark.django_db(transaction=True)
def test_prune_removes_the_shell_logs_of_the_dropped_month(settings, tmp_path):
    from apps.records.models import ensure_record_table, record_model
    from apps.records.runlogs import log_path

    settings.DJS_SHELL = replace(settings.DJS_SHELL, log_dir=tmp_path)
    ensure_record_table(2019, 7)
    scheduled = datetime(2019, 7, 3, tzinfo=UTC)
    rows = [record_model(2019, 7).objects.create(
        task_id=5, task_name="s", department_id=1, task_type=kind, trigger_type="SCHEDULE", scheduled_time=scheduled
        + timedelta(minutes=i), status=1, success=True, executor="n") for i, kind in enumerate(("SHELL", "HTTP"))]
    kept = log_path(tmp_path, year=2019, month=7, task_id=5, record_id=999_999)  # no such record: not touched
    other_month = log_path(tmp_path, year=2019, month=8, task_id=5, record_id=rows[0].pk)  # same id, August
    for path in (log_path(tmp_path, year=2019, month=7, task_id=5, record_id=rows[0].pk), kept, other_month):
        path.write_text("output")
    now = datetime.now(UTC)
    records_prune(keep_months=(now.year - 2019) * 12 + now.month - 7, now=now)
    assert table_name(2019, 7) not in existing_record_tables(refresh=True)
    assert not log_path(tmp_path, year=2019, month=7, task_id=5, record_id=rows[0].pk).exists()
    assert kept.exists() and other_month.exists()


def test_stats_of_the_last_representable_month(admin_api):
    """Found by `make fuzz`: December 9999 has no next day; its stats are an empty month, not a 500."""
    data = admin_api.get("records/stats?year=9999&month=12").expect(0).data
    assert data["total"] == 0 and len(data["daily"]) == 31


# --- list totals, deep pages, cursors (docs/records.md) -------------------------------------------------------

@pytest.fixture
def listed(org):
    """Records of two tasks in A and one in B, every status, two task types and two triggers."""
    rows = []
    kinds = [(RecordStatus.SUCCESS, "HTTP", "SCHEDULE"), (RecordStatus.FAILED, "GRPC", "SCHEDULE"),
             (RecordStatus.KILLED, "HTTP", "MANUAL"), (RecordStatus.SKIPPED, "HTTP", "SCHEDULE"),
             (RecordStatus.LOST, "GRPC", "RECOVERY"), (RecordStatus.RUNNING, "HTTP", "SCHEDULE")]
    second = 0
    for department, task_id in ((org.a, 21), (org.a, 22), (org.b, 23)):
        for day in (4, 5):
            for status, task_type, trigger in kinds:
                second += 1
                rows.append(make_record(department, day=day, task_id=task_id, status=status, task_type=task_type,
                                        trigger=trigger, second=second % 60, hour=12 + second // 60))
    return rows


@pytest.mark.parametrize("params", [
    {}, {"status": 1}, {"status": 0}, {"status": 5}, {"taskType": "GRPC"}, {"triggerType": "MANUAL"},
    {"taskId": 21}, {"taskId": 23}, {"success": "true"}, {"success": "0"}, {"departmentId": "A"},
    {"departmentId": "A", "status": 2, "taskType": "GRPC"}, {"taskId": 22, "triggerType": "RECOVERY"},
])
def test_list_totals_come_from_the_rollups_and_equal_the_rows(org, listed, params):
    params = {k: (org.a.pk if v == "A" else v) for k, v in params.items()}
    user = org.member(org.a, {"record:view"})
    reply = Api(user).get("records", year=2026, month=3, size=100, **params).expect(0).data
    assert reply["total"] == len(reply["list"]) and "totalCapped" not in reply
    assert all(row["departmentId"] == org.a.pk for row in reply["list"])  # B's never, also in the total


def test_a_filter_the_rollups_do_not_carry_answers_a_capped_count(admin_api, org, listed, monkeypatch):
    from apps.records import selectors

    parent = listed[0]
    for second in range(7):
        make_record(org.a, day=6, task_id=30, trigger="CHILD", second=second, parent_record_id=parent.pk,
                    parent_month=202603)
    exact = admin_api.get("records", year=2026, month=3, parentRecordId=parent.pk).expect(0).data
    assert (exact["total"], exact.get("totalCapped")) == (7, None)
    monkeypatch.setattr(selectors, "MAX_OFFSET", 5)
    capped = admin_api.get("records", year=2026, month=3, parentRecordId=parent.pk).expect(0).data
    assert (capped["total"], capped["totalCapped"]) == (5, True)


def test_pages_deeper_than_10000_rows_answer_use_cursor(admin_api, listed):
    admin_api.get("records", year=2026, month=3, page=100, size=100).expect(0)  # (100 - 1) * 100 < 10,000
    reply = admin_api.get("records", year=2026, month=3, page=101, size=100).expect(4001)
    assert "cursor" in reply.message and "page" in reply.data["fields"]


def test_a_cursor_walks_the_month_newest_first_once_and_only_for_its_own_query(org, listed):
    admin = Api(org.admin)
    seen, cursor = [], None
    while True:
        params = {"size": 4, **({"cursor": cursor} if cursor else {})}
        page = admin.get("records", year=2026, month=3, **params).expect(0).data
        seen += [row["id"] for row in page["list"]]
        if not page["hasMore"]:
            assert page["nextCursor"] is None
            break
        cursor = page["nextCursor"]
    assert seen == sorted((r.pk for r in listed), reverse=True)  # every row once, newest first

    first = admin.get("records", year=2026, month=3, size=4).expect(0).data["nextCursor"]
    tampered = first[:-3] + ("AAA" if not first.endswith("AAA") else "BBB")
    assert "cursor" in admin.get("records", year=2026, month=3, cursor=tampered).expect(4001).data["fields"]
    admin.get("records", year=2026, month=3, status=1, cursor=first).expect(4001)     # another filter set
    admin.get("records", year=2026, month=4, cursor=first).expect(4001)               # another month
    other = Api(org.member(org.b, {"record:view"}))
    other.get("records", year=2026, month=3, cursor=first).expect(4001)               # another user
