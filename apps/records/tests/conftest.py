import pytest

from apps.records.models import existing_record_tables, record_model


@pytest.fixture
def empty_month_tables(transactional_db):
    """Month tables are unmanaged: a transactional test's flush leaves their rows (other tests' records), while
    it empties the rollups. Start and end with no raw rows, so raw and rollups describe the same runs."""
    def wipe():
        for name in existing_record_tables(refresh=True):
            record_model(int(name[7:11]), int(name[11:13])).objects.all().delete()
    wipe()
    yield
    wipe()
