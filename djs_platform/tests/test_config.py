"""Configuration: config.yaml + DJS_* overrides, backend switching, and the startup secret guard."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from djs_platform.config import BASE_DIR, env_name, load_config


def test_env_names_follow_the_key_path():
    assert env_name("server.port") == "DJS_SERVER_PORT"
    assert env_name("job.httpWorkers") == "DJS_JOB_HTTP_WORKERS"
    assert env_name("auth.jwtSecret") == "DJS_AUTH_JWT_SECRET"


def test_environment_overrides_typed_values():
    cfg = load_config(environ={"DJS_SERVER_PORT": "9100", "DJS_DEBUG": "true", "DJS_JOB_HTTP_WORKERS": "7",
                               "DJS_JWT_SECRET": "1234", "DJS_DATABASE_URL": "mysql://u:p@db:3306/s"})
    assert cfg.get("server.port") == 9100
    assert cfg.get("server.debug") is True
    assert cfg.get("job.httpWorkers") == 7
    assert cfg.get("auth.jwtSecret") == "1234"  # strings stay strings
    assert cfg.get("database.url") == "mysql://u:p@db:3306/s"


def test_defaults_come_from_config_yaml():
    cfg = load_config(environ={})
    assert cfg.get("server.contextPath") == "/v1"
    assert cfg.get("rpc.port") == 9090
    assert cfg.get("database.url").startswith("sqlite:///")


def test_another_config_file_can_be_named(tmp_path: Path):
    path = tmp_path / "c.yaml"
    path.write_text("server:\n  port: 1234\n")
    assert load_config(environ={"DJS_CONFIG": str(path)}).get("server.port") == 1234


def _settings_in_subprocess(env: dict[str, str], expr: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DJS_")}
    code = (
        "import os, json; os.environ['DJANGO_SETTINGS_MODULE']='djs_platform.settings';"
        "from django.conf import settings; print(json.dumps(" + expr + "))"
    )
    return subprocess.run([sys.executable, "-c", code], env={**clean, **env}, cwd=BASE_DIR,
                          capture_output=True, text=True, timeout=60)


PROD_SECRETS = {"DJS_JWT_SECRET": "f" * 48, "DJS_ADMIN_PASSWORD": "A-long-admin-passw0rd"}


@pytest.mark.parametrize("env, complaint", [
    ({"DJS_DEBUG": "false", "DJS_ADMIN_PASSWORD": "A-long-admin-passw0rd"}, "DJS_JWT_SECRET"),
    ({"DJS_DEBUG": "false", "DJS_JWT_SECRET": "short", "DJS_ADMIN_PASSWORD": "A-long-admin-passw0rd"},
     "DJS_JWT_SECRET"),
    ({"DJS_DEBUG": "false", "DJS_JWT_SECRET": "f" * 48}, "DJS_ADMIN_PASSWORD"),
])
def test_debug_off_refuses_default_secrets(env, complaint):
    result = _settings_in_subprocess(env, "settings.DEBUG")
    assert result.returncode != 0
    assert "refuses to start" in result.stderr and complaint in result.stderr


def test_debug_off_starts_with_real_secrets():
    result = _settings_in_subprocess({"DJS_DEBUG": "false", **PROD_SECRETS}, "settings.DEBUG")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) is False


def test_debug_profile_replaces_placeholder_secret_with_a_random_one():
    result = _settings_in_subprocess({"DJS_DEBUG": "true"}, "settings.SIMPLE_JWT['SIGNING_KEY']")
    assert result.returncode == 0, result.stderr
    secret = json.loads(result.stdout)
    assert secret != "your-secret-key" and len(secret) >= 32


def test_database_and_redis_urls_switch_backends():
    env = {"DJS_DEBUG": "false", **PROD_SECRETS, "DJS_DATABASE_URL": "mysql://djs:pw%40x@10.0.0.5:3307/sched",
           "DJS_REDIS_URL": "redis://127.0.0.1:6390/2"}
    expr = "[settings.DATABASES['default'], settings.CACHES['default']['BACKEND'], settings.CACHES['default']['LOCATION']]"
    result = _settings_in_subprocess(env, expr)
    assert result.returncode == 0, result.stderr
    db, cache_backend, location = json.loads(result.stdout)
    assert db["ENGINE"] == "django.db.backends.mysql"
    assert (db["NAME"], db["USER"], db["PASSWORD"], db["HOST"], db["PORT"]) == ("sched", "djs", "pw@x", "10.0.0.5", "3307")
    assert db["OPTIONS"]["charset"] == "utf8mb4"
    assert cache_backend == "django_redis.cache.RedisCache" and location == "redis://127.0.0.1:6390/2"


def test_original_host_port_database_form_uses_username_and_schema():
    env = {"DJS_DEBUG": "false", **PROD_SECRETS, "DJS_DATABASE_URL": "db.internal:3306",
           "DJS_DATABASE_USERNAME": "sched", "DJS_DATABASE_PASSWORD": "pw", "DJS_DATABASE_SCHEMA": "scheduler"}
    result = _settings_in_subprocess(env, "settings.DATABASES['default']")
    db = json.loads(result.stdout)
    assert (db["ENGINE"], db["HOST"], db["USER"], db["NAME"]) == ("django.db.backends.mysql", "db.internal", "sched", "scheduler")


def test_embedded_default_is_sqlite_under_var_with_database_cache():
    result = _settings_in_subprocess({"DJS_DEBUG": "true"},
                                     "[settings.DATABASES['default'], settings.CACHES['default']['BACKEND']]")
    db, cache_backend = json.loads(result.stdout)
    assert db["ENGINE"] == "django.db.backends.sqlite3"
    assert db["NAME"] == str(BASE_DIR / "var" / "djs.sqlite3")
    assert "journal_mode=WAL" in db["OPTIONS"]["init_command"]
    assert cache_backend == "django.core.cache.backends.db.DatabaseCache"


def test_deploy_checks_are_clean_in_the_production_profile():
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJS_")}
    env.update(DJS_DEBUG="false", **PROD_SECRETS)
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                            env=env, cwd=BASE_DIR, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_replica_alias_and_router_exist_only_when_a_replica_url_is_configured():
    expr = "[sorted(settings.DATABASES), getattr(settings, 'DATABASE_ROUTERS', []), settings.DATABASE_REPLICA]"
    primary = {"DJS_DEBUG": "false", **PROD_SECRETS, "DJS_DATABASE_URL": "mysql://djs:pw@10.0.0.5:3306/sched"}
    result = _settings_in_subprocess(primary, expr)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [["default"], [], {"max_lag": 5.0}]
    result = _settings_in_subprocess({**primary, "DJS_DATABASE_REPLICA_URL": "mysql://ro:pw@10.0.0.6:3306/sched",
                                      "DJS_DATABASE_REPLICA_MAX_LAG_SECONDS": "2"},
                                     expr + " + [settings.DATABASES['replica']]")
    assert result.returncode == 0, result.stderr
    aliases, routers, replica_settings, replica = json.loads(result.stdout)
    assert aliases == ["default", "replica"] and routers == ["djs_platform.dbrouter.ReadReplicaRouter"]
    assert replica_settings == {"max_lag": 2.0}
    assert (replica["HOST"], replica["USER"], replica["NAME"]) == ("10.0.0.6", "ro", "sched")
    assert replica["OPTIONS"]["isolation_level"] == "read committed"  # same options as the primary
    result = _settings_in_subprocess({"DJS_DEBUG": "true", "DJS_DATABASE_REPLICA_URL": "mysql://ro:pw@h/s"},
                                     "settings.DEBUG")
    assert result.returncode != 0 and "database.replicaUrl" in result.stderr  # SQLite cannot have a replica
