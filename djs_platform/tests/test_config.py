"""Configuration: config.yaml + DJS_* overrides, backend switching, and the startup secret guard."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from djs_platform.conf import connection_budget_error
from djs_platform.config import (
    ALIASES,
    BASE_DIR,
    NON_KEY_PREFIXES,
    NON_KEY_VARIABLES,
    env_name,
    load_config,
)


def test_env_names_follow_the_key_path():
    assert env_name("server.port") == "DJS_SERVER_PORT"
    assert env_name("job.httpWorkers") == "DJS_JOB_HTTP_WORKERS"
    assert env_name("auth.jwtSecret") == "DJS_AUTH_JWT_SECRET"


def test_environment_overrides_typed_values():
    cfg = load_config(environ={"DJS_SERVER_PORT": "9100", "DJS_DEBUG": "true", "DJS_JOB_HTTP_WORKERS": "7",
                               "DJS_JWT_SECRET": "1234", "DJS_DATABASE_URL": "mysql://u:p@db:3306/s"})
    assert cfg["server.port"] == 9100
    assert cfg["server.debug"] is True
    assert cfg["job.httpWorkers"] == 7
    assert cfg["auth.jwtSecret"] == "1234"  # strings stay strings
    assert cfg["database.url"] == "mysql://u:p@db:3306/s"


def test_defaults_come_from_config_yaml():
    cfg = load_config(environ={})
    assert cfg["server.contextPath"] == "/v1"
    assert cfg["rpc.port"] == 9090
    assert cfg["database.url"].startswith("sqlite:///")


def test_the_file_djs_config_names_is_merged_over_the_defaults(tmp_path: Path):
    path = tmp_path / "c.yaml"
    path.write_text("server:\n  port: 1234\njob:\n  shell:\n    runAsDepartments: {7: alice}\nrecords:\n")
    cfg = load_config(environ={"DJS_CONFIG": str(path)})
    assert cfg["server.port"] == 1234
    assert cfg["server.contextPath"] == "/v1" and cfg["job.shell.workers"] == 20  # the rest: defaults
    assert cfg.mapping("job.shell.runAsDepartments") == {"7": "alice"}
    assert cfg["records.keepMonths"] == 0  # an empty section changes nothing
    assert (cfg.source, cfg.overlay, cfg.warnings) == (BASE_DIR / "configs" / "config.yaml", path, [])
    assert load_config(environ={"DJS_CONFIG": str(path), "DJS_SERVER_PORT": "4321"})["server.port"] == 4321


def test_unknown_overlay_keys_and_djs_variables_are_named_in_warnings(tmp_path: Path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"server": {"prot": 9100, "port": 9100}, "job": {"workers": 5},
                                    "log": {"maxAge": 3}, "tracing": "otlp"}, sort_keys=False))
    environ = {"DJS_CONFIG": str(path), "DJS_SERVER_PROT": "1", "DJS_JOB_WORKERS": "3", "DJS_LOG_MAX_AGE": "2",
               "DJS_JWT_SECRET": "x" * 40, "DJS_TEST_WORKERS": "2", "DJS_EVENT_LOOP": "asyncio",
               "DJS_SHUTDOWN_PID": "1", "DJS_HTTP_TRANSPORT": "native", "OTHER_VAR": "1"}
    cfg = load_config(environ=environ)
    assert cfg["log.maxAge"] == 2 and cfg["tracing.exporter"] == "none"
    assert cfg.warnings == [
        f"{path}: unknown configuration key server.prot, ignored (did you mean server.port?)",
        (f"{path}: job.workers is no longer used and has no effect: executions run on one asyncio loop per "
         "scheduler node; their concurrency is job.httpWorkers, job.grpcWorkers and job.shell.workers"),
        f"{path}: tracing is a section of keys, not a value: ignored",
        ("environment variable DJS_JOB_WORKERS (job.workers) is no longer used and has no effect: executions run "
         "on one asyncio loop per scheduler node; their concurrency is job.httpWorkers, job.grpcWorkers and "
         "job.shell.workers"),
        "environment variable DJS_SERVER_PROT matches no configuration key, ignored (did you mean DJS_SERVER_PORT?)",
    ]


def test_a_process_names_a_typo_in_a_warning_at_start(tmp_path: Path):
    path = tmp_path / "c.yaml"
    path.write_text("auth:\n  jwtExpireHour: 2\n")
    result = _manage_in_subprocess({"DJS_DEBUG": "true", "DJS_CONFIG": str(path), "DJS_RPC_MAX_WORKER": "4"},
                                   "version")
    assert result.returncode == 0, result.stderr
    assert re.search(r"WARNING djs\.config configuration: .*c\.yaml: unknown configuration key auth\.jwtExpireHour, "
                     r"ignored \(did you mean auth\.jwtExpireHours\?\)", result.stderr), result.stderr
    assert "environment variable DJS_RPC_MAX_WORKER matches no configuration key, ignored (did you mean " \
           "DJS_RPC_MAX_WORKERS?)" in result.stderr


_CODE = [p for top in ("djs_platform", "apps", "rpc", "configs", "scripts") for p in (BASE_DIR / top).rglob("*.py")
         if "tests" not in p.parts and "generated" not in p.parts]


def test_every_key_of_config_yaml_is_read_by_the_code():
    """A key in the defaults file that nothing reads would be a setting that silently does nothing."""
    code = "\n".join(path.read_text() for path in _CODE)
    keys = load_config(environ={}).keys()
    unread = [key for key in keys if f'"{key}"' not in code and f"'{key}'" not in code]
    assert unread == []


def test_every_djs_variable_the_code_reads_is_a_key_or_known_not_to_be_one():
    read = {name for path in _CODE for name in re.findall(r"environ(?:\.get\(|\.setdefault\(|\[)\s*[\"'](DJS_[A-Z_]+)",
                                                           path.read_text())}
    assert read, "the scan found no DJS_* read at all"
    keys = {env_name(key) for key in load_config(environ={}).keys()}
    unknown = {name for name in read if name not in keys and name not in ALIASES and name not in NON_KEY_VARIABLES
               and not name.startswith(NON_KEY_PREFIXES)}
    assert unknown == set()


@pytest.mark.parametrize("role, environ, expected", [
    ("web", {}, None),  # 2 x 8 <= 32
    ("web", {"DJS_SERVER_WORKERS": "4", "DJS_SERVER_THREADS": "8"}, None),  # docker-compose's web: exactly 32
    ("web", {"DJS_SERVER_WORKERS": "3", "DJS_SERVER_THREADS": "8", "DJS_DATABASE_MAX_CONN": "20"},
     ("database.maxConn is 20, but the web process may open 24 database connections (server.workers 3 x "
      "server.threads 8; one per thread): raise database.maxConn (DJS_DATABASE_MAX_CONN) or lower server.workers "
      "or server.threads")),
    ("grpc", {"DJS_RPC_MAX_WORKERS": "40"},
     ("database.maxConn is 32, but the grpc process may open 40 database connections (40 gRPC handler threads "
      "(rpc.maxWorkers); one per thread): raise database.maxConn (DJS_DATABASE_MAX_CONN) or lower rpc.maxWorkers")),
    ("scheduler", {"DJS_DATABASE_MAX_CONN": "5"}, None),
    ("scheduler", {"DJS_DATABASE_MAX_CONN": "0", "DJS_SERVER_THREADS": "500"}, None),  # 0 = unchecked
])
def test_database_max_conn_is_checked_against_the_threads_of_each_role(role, environ, expected):
    assert connection_budget_error(role, load_config(environ=environ)) == expected


def test_the_scheduler_budget_counts_every_database_thread_of_a_node():
    """A node's database threads are ``DbThread``s (one connection each): a new one must raise the count."""
    from djs_platform.config import SCHEDULER_DB_THREADS

    sources = [*(BASE_DIR / "apps" / "tasks" / "scheduler").glob("*.py"), BASE_DIR / "apps" / "alerts" / "watcher.py"]
    names = sorted(name for path in sources for name in re.findall(r'DbThread\("(djs-[a-z]+)"[,)]', path.read_text()))
    assert names == ["djs-alerts", "djs-beats", "djs-control", "djs-records", "djs-starts"]
    assert len(names) == SCHEDULER_DB_THREADS


def test_a_scheduler_node_and_a_web_server_refuse_to_start_with_more_threads_than_max_conn():
    scheduler = _manage_in_subprocess({"DJS_DEBUG": "true", "DJS_DATABASE_MAX_CONN": "4"}, "runscheduler")
    assert scheduler.returncode == 1
    assert "database.maxConn is 4, but the scheduler process may open 5 database connections" in scheduler.stderr
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DJS_")}
    web = subprocess.run([sys.executable, "-m", "gunicorn", "-c", "configs/gunicorn.conf.py", "--check-config"],
                         env={**clean, "DJS_DEBUG": "true", "DJS_SERVER_WORKERS": "5"}, cwd=BASE_DIR,
                         capture_output=True, text=True, timeout=60)
    assert web.returncode == 1
    assert web.stderr.strip().splitlines()[-1] == (
        "error: database.maxConn is 32, but the web process may open 40 database connections (server.workers 5 x "
        "server.threads 8; one per thread): raise database.maxConn (DJS_DATABASE_MAX_CONN) or lower server.workers "
        "or server.threads")


def _manage_in_subprocess(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DJS_")}
    return subprocess.run([sys.executable, "manage.py", *args], env={**clean, **env}, cwd=BASE_DIR,
                          capture_output=True, text=True, timeout=60)


def _settings_in_subprocess(env: dict[str, str], expr: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DJS_")}
    code = (
        "import os, json; os.environ['DJANGO_SETTINGS_MODULE']='djs_platform.settings';"
        "from djs_platform.startup import prepare; prepare();"
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
    expr = ("[sorted(settings.DATABASES), getattr(settings, 'DATABASE_ROUTERS', []), "
            "settings.DJS_DATABASE.replica_max_lag_seconds]")
    primary = {"DJS_DEBUG": "false", **PROD_SECRETS, "DJS_DATABASE_URL": "mysql://djs:pw@10.0.0.5:3306/sched"}
    result = _settings_in_subprocess(primary, expr)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [["default"], [], 5.0]
    result = _settings_in_subprocess({**primary, "DJS_DATABASE_REPLICA_URL": "mysql://ro:pw@10.0.0.6:3306/sched",
                                      "DJS_DATABASE_REPLICA_MAX_LAG_SECONDS": "2"},
                                     expr + " + [settings.DATABASES['replica']]")
    assert result.returncode == 0, result.stderr
    aliases, routers, replica_settings, replica = json.loads(result.stdout)
    assert aliases == ["default", "replica"] and routers == ["djs_platform.dbrouter.ReadReplicaRouter"]
    assert replica_settings == 2.0
    assert (replica["HOST"], replica["USER"], replica["NAME"]) == ("10.0.0.6", "ro", "sched")
    assert replica["OPTIONS"]["isolation_level"] == "read committed"  # same options as the primary
    result = _settings_in_subprocess({"DJS_DEBUG": "true", "DJS_DATABASE_REPLICA_URL": "mysql://ro:pw@h/s"},
                                     "settings.DEBUG")
    assert result.returncode != 0 and "database.replicaUrl" in result.stderr  # SQLite cannot have a replica


# --- typed settings: one object per concern, defaults only in config.yaml (issue 22) ------------------------

def _all_settings(cfg) -> list:
    from djs_platform import conf

    return [kind.from_config(cfg) for kind in (
        conf.ServerSettings, conf.DatabaseSettings, conf.RedisSettings, conf.AuthSettings,
        conf.SchedulerSettings, conf.ShellSettings, conf.RecordsSettings, conf.DepartmentSettings,
        conf.RpcSettings, conf.EgressSettings, conf.AlertSettings, conf.TracingSettings,
        conf.ExecutorRegistrySettings, conf.LogSettings)]


def test_every_concern_reads_its_keys_from_config_yaml():
    server, database, redis, auth, scheduler, shell, records, departments, rpc, egress, alerts, tracing, \
        executors, log = _all_settings(load_config(environ={"DJS_DEBUG": "false", **PROD_SECRETS}))
    assert (server.port, server.context_path, server.api_prefix) == (9088, "/v1", "v1/")
    assert server.language == "en"
    assert (database.max_conn, database.replica_url, redis.url) == (32, "", "")
    assert (auth.login_max_failures, auth.access_token_lifetime.total_seconds()) == (5, 24 * 3600)
    assert (scheduler.poll_interval, scheduler.claim_batch, scheduler.jobs) == (0.5, 500, ())
    assert (shell.enabled, shell.log_dir, shell.run_as_departments) == (False, BASE_DIR / "logs", {})
    assert (records.keep_months, records.rollup_keep_months, departments.max_depth) == (0, 24, 20)
    assert (rpc.port, rpc.address) == (9090, "127.0.0.1:9090")
    assert (egress.allow_cidrs, egress.allow_private) == ((), False)
    assert (alerts.smtp.sender, tracing.exporter) == ("djs@localhost", "none")
    assert executors.register_per_user_per_minute == 120
    assert log.level == "INFO"


def test_a_key_missing_from_config_yaml_is_an_error_naming_it(tmp_path: Path):
    """Defaults live only in config.yaml: the code has none to fall back on, so a missing key says which."""
    from django.core.exceptions import ImproperlyConfigured

    from djs_platform.conf import SchedulerSettings

    text = (BASE_DIR / "configs" / "config.yaml").read_text()
    defaults = tmp_path / "config.yaml"
    defaults.write_text(re.sub(r"\n  lookahead: .*\n", "\n", text))
    with pytest.raises(ImproperlyConfigured, match="configuration key job.lookahead is missing"):
        SchedulerSettings.from_config(load_config(environ={}, defaults=defaults))


def test_the_code_reads_the_configuration_only_through_the_typed_settings():
    """``config.get(key, default)`` wrote each default a second time; settings.py builds the objects."""
    code = {path: path.read_text() for path in _CODE}
    assert [str(p) for p, text in code.items() if re.search(r"\b(config|cfg)\.get\(", text)] == []
    assert "config[" not in code[BASE_DIR / "djs_platform" / "settings.py"]


def test_rollup_retention_below_record_retention_is_refused():
    from django.core.exceptions import ImproperlyConfigured

    from djs_platform.conf import RecordsSettings

    with pytest.raises(ImproperlyConfigured, match="records.rollupKeepMonths"):
        RecordsSettings.from_config(load_config(environ={"DJS_RECORDS_KEEP_MONTHS": "12",
                                                        "DJS_RECORDS_ROLLUP_KEEP_MONTHS": "6"}))


def _copy_of_the_platform(tmp_path: Path) -> Path:
    """A project directory of its own (BASE_DIR is where djs_platform lives): the settings need only the
    platform package and configs/."""
    import shutil

    base = tmp_path / "djs"
    for top in ("djs_platform", "configs"):
        shutil.copytree(BASE_DIR / top, base / top, ignore=shutil.ignore_patterns("__pycache__", "tests"))
    return base


def _files_under(base: Path) -> set[str]:
    return {str(p.relative_to(base)) for p in base.rglob("*")}


def _python_in(base: Path, env: dict[str, str], code: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DJS_")}
    return subprocess.run([sys.executable, "-c", code], cwd=base, capture_output=True, text=True, timeout=60,
                          env={**clean, "PYTHONPATH": str(base), "PYTHONDONTWRITEBYTECODE": "1",
                               "DJANGO_SETTINGS_MODULE": "djs_platform.settings", **env})


READ_SETTINGS = "from django.conf import settings; print(settings.SIMPLE_JWT['SIGNING_KEY'])"


def test_importing_the_settings_creates_nothing_and_start_up_prepares_var(tmp_path: Path):
    base = _copy_of_the_platform(tmp_path)
    before = _files_under(base)
    production = _python_in(base, {"DJS_DEBUG": "false", **PROD_SECRETS}, READ_SETTINGS)
    assert production.returncode == 0, production.stderr
    assert production.stdout.strip() == PROD_SECRETS["DJS_JWT_SECRET"]
    # The dev profile's secret is start-up's: without it the settings say so, and still write nothing.
    dev = _python_in(base, {"DJS_DEBUG": "true"}, READ_SETTINGS)
    assert dev.returncode != 0 and "var/jwt-secret does not exist yet" in dev.stderr, dev.stderr
    assert _files_under(base) == before  # no var/, no jwt-secret, no static root

    started = _python_in(base, {"DJS_DEBUG": "true"},
                         "from djs_platform.startup import prepare; prepare(); " + READ_SETTINGS)
    assert started.returncode == 0, started.stderr
    var = base / "var"
    secret = (var / "jwt-secret").read_text().strip()
    assert started.stdout.strip() == secret and len(secret) >= 32
    assert oct(var.stat().st_mode & 0o777) == "0o700"
    assert oct((var / "jwt-secret").stat().st_mode & 0o777) == "0o600"
    assert (var / "static").is_dir()
    again = _python_in(base, {"DJS_DEBUG": "true"},
                       "from djs_platform.startup import prepare; prepare(); " + READ_SETTINGS)
    assert again.stdout.strip() == secret  # one secret per install
