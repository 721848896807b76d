"""scripts/init-db/init.sql stays identical to what the migrations produce, and loads into MySQL/MariaDB."""
from __future__ import annotations

import secrets
import subprocess
import sys
from urllib.parse import urlparse

import MySQLdb
import pytest

from djs_platform.config import BASE_DIR
from apps.accounts.permissions import PERMISSION_CODES
from tests.platform import manage, platform_env, required_env

pytestmark = [pytest.mark.processes, pytest.mark.mariadb_only]
sys.path.insert(0, str(BASE_DIR / "scripts"))
import gen_init_sql  # noqa: E402


def test_committed_init_sql_matches_the_migrations():
    generated = gen_init_sql.generate(required_env("DJS_TEST_MARIADB_URL"))
    committed = gen_init_sql.OUTPUT.read_text()
    assert committed == generated, "scripts/init-db/init.sql is stale: run .venv/bin/python scripts/gen_init_sql.py"


def test_a_database_created_from_init_sql_is_up_to_date_and_bootstraps():
    server = required_env("DJS_TEST_MARIADB_URL")
    parsed = urlparse(server)
    schema = "djs_fromsql_" + secrets.token_hex(4)
    conn = MySQLdb.connect(host=parsed.hostname, port=parsed.port, user=parsed.username, passwd=parsed.password)
    conn.cursor().execute(f"CREATE DATABASE {schema} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    try:
        args, _ = gen_init_sql._mysql_args(server)
        with open(gen_init_sql.OUTPUT, "rb") as sql:
            loaded = subprocess.run(["mariadb", *args, schema], stdin=sql, capture_output=True, timeout=120)
        assert loaded.returncode == 0, loaded.stderr.decode()
        env = platform_env(parsed._replace(path="/" + schema).geturl())
        manage(env, "migrate", "--check")  # raises if any migration would still apply
        manage(env, "bootstrap")
        cursor = conn.cursor()
        cursor.execute(f"SELECT code FROM {schema}.permission ORDER BY code")
        codes = [row[0] for row in cursor.fetchall()]
        assert codes == sorted(PERMISSION_CODES)  # every permission the platform knows, seeded once
        cursor.execute(f"SELECT u.username, r.name FROM {schema}.user u JOIN {schema}.role r ON r.id = u.role_id")
        assert cursor.fetchall() == (("admin", "admin"),)
    finally:
        conn.cursor().execute(f"DROP DATABASE IF EXISTS {schema}")
        conn.close()
