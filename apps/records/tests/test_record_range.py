"""``GET /records?year&month&start&end``: the runs scheduled in a time range within the month, newest first, paged
by the cursor like any other filter (docs/api.md "Record lists")."""
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from apps.records.models import RecordStatus, ensure_record_table
from apps.records.selectors import record_list
from apps.records.tests.test_read_indexes import _handler_reads, _plan, _tables
from tests.factories import add_record

DAY = datetime(2026, 5, 10, tzinfo=UTC)


def _ids(reply) -> list[int]:
    return [row["id"] for row in reply.data["list"]]


def test_records_of_a_time_range_within_the_month_page_by_cursor(org, admin_api):
    rows = [add_record(task_id=4242, task_name="ranged", department_id=org.a.pk,
                       scheduled_time=DAY + timedelta(hours=h)) for h in range(-2, 5)]  # 9 May 22:00 ... 10 May 04:00
    inside = [r.pk for r in rows if DAY <= r.scheduled_time < DAY + timedelta(hours=3)]
    query = {"year": 2026, "month": 5, "departmentId": org.a.pk, "start": "2026-05-10T00:00:00Z",
             "end": "2026-05-10T03:00:00Z"}
    first = admin_api.get("records", **query, size=2).expect(0)
    assert _ids(first) == sorted(inside, reverse=True)[:2] and first.data["total"] == 3 and first.data["hasMore"]
    rest = admin_api.get("records", **query, size=2, cursor=first.data["nextCursor"]).expect(0)
    assert _ids(rest) == sorted(inside, reverse=True)[2:] and not rest.data["hasMore"]
    # a cursor belongs to its range: another one is refused, not followed
    other = {**query, "end": "2026-05-10T04:00:00Z"}
    admin_api.get("records", **other, size=2, cursor=first.data["nextCursor"]).expect(4001)


def test_a_range_that_ends_before_it_starts_is_4001_in_the_requests_language(org, admin_api):
    path = "records?year=2026&month=5&start=2026-05-10T03:00:00Z&end=2026-05-10T01:00:00Z"
    reply = admin_api.call("GET", path).expect(4001)
    assert reply.message == "end: must be after start" and list(reply.data["fields"]) == ["end"]
    zh = admin_api.call("GET", path, HTTP_ACCEPT_LANGUAGE="zh-CN").expect(4001)
    assert "必须晚于开始时间" in zh.message
    admin_api.get("records", year=2026, month=5, start="yesterday").expect(4001)


@pytest.mark.mariadb_only
@pytest.mark.django_db(transaction=True)
def test_a_time_range_reads_through_the_department_time_index(org, empty_month_tables):
    """A range of an hour in a month of 4,000 runs reads about its own rows through (department_id,
    scheduled_time), not the month by primary key."""
    model = ensure_record_table(2026, 2)
    start = datetime(2026, 2, 1, tzinfo=UTC)
    model.objects.bulk_create([
        model(task_id=7, task_name="t", department_id=org.a.pk, task_type="HTTP", trigger_type="SCHEDULE",
              scheduled_time=start + timedelta(minutes=10 * i), status=RecordStatus.SUCCESS, success=True,
              cost_time=10, executor="n") for i in range(4000)], batch_size=2000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE TABLE record_202602")
        cursor.fetchall()
    day = datetime(2026, 2, 20, 8, tzinfo=UTC)
    qs = record_list(user=org.admin, year=2026, month=2, scheduled_from=day, scheduled_before=day + timedelta(hours=1))

    def page():
        return list(qs.values_list("id", flat=True)[:51])

    assert len(page()) == 6
    assert _handler_reads(page) <= 60  # a scan of the month by primary key reads 4,000
    sql, params = qs.values("id")[:51].query.sql_with_params()
    keys = {node.get("key") for node in _tables(_plan(sql, list(params)))}
    assert "ix_record_202602_dept" in keys, keys
