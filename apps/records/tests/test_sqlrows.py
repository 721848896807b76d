"""apps/records/sqlrows.py: which values become SQL text and which stay bound parameters, and that a row written
that way stores the same values as a fully bound one."""
from datetime import date, datetime, timezone

import pytest
from django.db import connection

from apps.records import sqlrows
from apps.records.models import RecordStatus

UTC = timezone.utc


def test_numbers_dates_times_booleans_and_nulls_are_text_and_everything_else_is_bound():
    params: list = []
    adapt = sqlrows.cached(lambda value: value.replace(tzinfo=None).isoformat(" "))
    text = sqlrows.row([7, "it's", None, False, date(2026, 12, 6), datetime(2026, 12, 6, 5, 4, 3, 21, tzinfo=UTC),
                        RecordStatus.SUCCESS, 1.5], params, adapt)
    assert text == "(7, %s, NULL, FALSE, '2026-12-06', '2026-12-06 05:04:03.000021', %s, %s)"
    assert params == ["it's", RecordStatus.SUCCESS, 1.5]  # a str, an int subclass and a float stay parameters


def test_an_adapted_datetime_that_is_not_plain_digits_and_separators_stays_bound():
    params: list = []
    odd = "2026-12-06 05:04:03'); DROP TABLE task; --"
    assert sqlrows.value(datetime(2026, 12, 6, tzinfo=UTC), params, lambda _: odd) == "%s"
    assert params == [odd]  # bound as the backend adapted it


@pytest.mark.django_db
def test_a_row_written_as_text_reads_back_like_a_bound_one():
    adapt = sqlrows.cached(connection.ops.adapt_datetimefield_value)
    moment = datetime(2026, 12, 6, 5, 4, 3, 123456, tzinfo=UTC)
    values = [42, "name with 'quotes' and %s", None, True, date(2026, 12, 6), moment]
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE sqlrows_probe (a INTEGER, b VARCHAR(64), c INTEGER NULL, d BOOLEAN, "
                       "e DATE, f DATETIME(6))" if connection.vendor == "mysql" else
                       "CREATE TEMPORARY TABLE sqlrows_probe (a INTEGER, b VARCHAR(64), c INTEGER NULL, d BOOLEAN, "
                       "e DATE, f DATETIME)")
        params: list = []
        cursor.execute(f"INSERT INTO sqlrows_probe VALUES {sqlrows.row(values, params, adapt)}", params)
        cursor.execute("INSERT INTO sqlrows_probe VALUES (%s, %s, %s, %s, %s, %s)",
                       [42, values[1], None, True, date(2026, 12, 6), adapt(moment)])
        cursor.execute("SELECT a, b, c, d, e, f FROM sqlrows_probe")
        text_row, bound_row = cursor.fetchall()
        cursor.execute("DROP TABLE sqlrows_probe")
    assert text_row == bound_row
    assert text_row[1] == "name with 'quotes' and %s"
