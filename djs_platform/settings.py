"""Django settings for DJS: derived from ``configs/config.yaml`` + ``DJS_*`` environment variables.

Test and production differences are data (environment), not code forks.
"""
from __future__ import annotations

import os
import stat
import sys
import zoneinfo
from datetime import timedelta
from urllib.parse import parse_qs, unquote, urlparse

from django.core.exceptions import ImproperlyConfigured

from djs_platform.config import (
    BASE_DIR,
    DEFAULT_ADMIN_PASSWORDS,
    DEFAULT_JWT_SECRETS,
    config,
    install_secret,
    server_language,
)
from djs_platform.logs import LogFiles

DEBUG: bool = bool(config.get("server.debug", False))
SERVER_PORT = int(config.get("server.port", 9088))
CONTEXT_PATH = "/" + str(config.get("server.contextPath", "/v1")).strip("/")  # "/v1"
API_PREFIX = CONTEXT_PATH.lstrip("/") + "/"  # "v1/"

JWT_SECRET: str = str(config.get("auth.jwtSecret") or "")
ADMIN_USERNAME: str = str(config.get("auth.adminUsername") or "admin")
ADMIN_PASSWORD: str = str(config.get("auth.adminPassword") or "")


def _refuse_default_secrets() -> None:
    """Startup guard: production (DEBUG off) never runs on a published placeholder secret."""
    problems = []
    if JWT_SECRET in DEFAULT_JWT_SECRETS or len(JWT_SECRET) < 32:
        problems.append(
            "auth.jwtSecret is the default placeholder or shorter than 32 characters: "
            "set DJS_JWT_SECRET to a long random value (e.g. `openssl rand -hex 32`)"
        )
    if ADMIN_PASSWORD in DEFAULT_ADMIN_PASSWORDS:
        problems.append("auth.adminPassword is the default 'admin123': set DJS_ADMIN_PASSWORD")
    if problems:
        raise ImproperlyConfigured(
            "DJS refuses to start with DEBUG off and default secrets:\n  - "
            + "\n  - ".join(problems)
            + "\n(For local development only, DJS_DEBUG=true enables the embedded dev profile.)"
        )


def _private_state() -> None:
    """``var/`` holds the SQLite database, the JWT and shutdown secrets and run state: 0700, its files 0600,
    and every file a DJS process creates is private (umask 077). ``configs/`` (the configuration may carry
    secrets) is 0700 and the configuration file 0600. A SHELL command runs as another user (docs/security.md,
    finding 2) and must read none of it. Only what this process's user owns is changed."""
    os.umask(0o077)
    var = BASE_DIR / "var"
    try:
        var.mkdir(mode=0o700, exist_ok=True)
    except OSError:  # a read-only tree is the operator's choice; the process still starts
        pass
    for directory in (var, BASE_DIR / "configs"):
        try:
            if directory.stat().st_uid != os.geteuid():
                continue
            directory.chmod(0o700)
            for entry in directory.iterdir() if directory == var else ():
                info = entry.lstat()
                if stat.S_ISREG(info.st_mode) and info.st_uid == os.geteuid() and info.st_mode & 0o077:
                    entry.chmod(0o600)
        except OSError:
            pass
    for path in config.files:  # the defaults and the DJS_CONFIG overlay
        try:
            info = path.stat()
            if info.st_uid == os.geteuid() and info.st_mode & 0o077:
                path.chmod(0o600)
        except OSError:
            pass


_private_state()


def _dev_jwt_secret() -> str:
    """Embedded dev profile: a random per-install secret in var/ instead of the published placeholder."""
    import secrets

    return install_secret(BASE_DIR / "var" / "jwt-secret", lambda: secrets.token_hex(32))


if not DEBUG:
    _refuse_default_secrets()
elif JWT_SECRET in DEFAULT_JWT_SECRETS:
    JWT_SECRET = _dev_jwt_secret()

SECRET_KEY = "djs-django:" + JWT_SECRET
ALLOWED_HOSTS = list(config.get("server.allowedHosts") or ["*"])
TRUSTED_PROXIES: list[str] = list(config.get("server.trustedProxies") or [])

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "djs_platform",
    "apps.departments",
    "apps.accounts",
    "apps.tasks",
    "apps.records",
    "apps.alerts",
    "apps.executors",
    "rpc",
]

MIDDLEWARE = [
    "djs_platform.middleware.MetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "djs_platform.middleware.SecurityHeadersMiddleware",
    "djs_platform.middleware.LanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    # The API authenticates with bearer tokens (DRF views are CSRF-exempt); CSRF protection still guards any
    # cookie-authenticated view a future change might add.
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "djs_platform.urls"
WSGI_APPLICATION = "djs_platform.wsgi.application"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    }
]


MYSQL_DRIVER_MISSING = (
    "database.url names MySQL/MariaDB but its driver (mysqlclient) is not installed: install the Debian packages "
    "default-libmysqlclient-dev pkg-config build-essential, then run `make run` again "
    "(or .venv/bin/pip install -r requirements-mysql.txt)"
)


def _mysql_driver_installed() -> bool:
    try:
        import MySQLdb  # noqa: F401  (Django's MySQL backend imports it anyway)
    except ImportError:
        return False
    return True


def database_from_url(url: str) -> dict:
    """``sqlite:///relative/or//abs/path`` or ``mysql://user:pass@host:port/schema?opt=v``.

    A bare ``host:port`` (the original DistributedJob form) uses database.username/password/schema.
    """
    if "://" not in url:
        host, _, port = url.partition(":")
        url = "mysql://{}:{}@{}:{}/{}".format(
            config.get("database.username", "root"), config.get("database.password", ""),
            host or "127.0.0.1", port or "3306", config.get("database.schema", "scheduler"),
        )
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        path = unquote(url[len("sqlite:///"):])
        name = path if path.startswith("/") else str(BASE_DIR / path)
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": name,
            "OPTIONS": {
                # WAL + busy timeout so web, gRPC and scheduler processes share one file.
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 30,
            },
            # A file, not :memory:, so scheduler threads and processes in tests share the test database.
            "TEST": {"NAME": str(BASE_DIR / "var" / f"test-djs-{os.getpid()}.sqlite3")},
        }
    if parsed.scheme in {"mysql", "mariadb"}:
        if not _mysql_driver_installed():
            raise ImproperlyConfigured(MYSQL_DRIVER_MISSING)
        options = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
        return {
            "ENGINE": "django.db.backends.mysql",
            "NAME": unquote(parsed.path.lstrip("/")) or "scheduler",
            "USER": unquote(parsed.username or ""),
            "PASSWORD": unquote(parsed.password or ""),
            "HOST": parsed.hostname or "127.0.0.1",
            "PORT": str(parsed.port or 3306),
            "CONN_MAX_AGE": int(config.get("database.connMaxAge", 60)),
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": {
                "charset": "utf8mb4",
                "isolation_level": "read committed",
                "init_command": "SET sql_mode='STRICT_TRANS_TABLES', time_zone='+00:00'",
                **options,
            },
            "TEST": {"CHARSET": "utf8mb4", "COLLATION": "utf8mb4_unicode_ci"},
        }
    raise ImproperlyConfigured(f"Unsupported database.url scheme {parsed.scheme!r}: use sqlite:/// or mysql://")


DATABASES = {"default": database_from_url(str(config.get("database.url") or "sqlite:///var/djs.sqlite3"))}
#: ``database.maxConn``: most connections one process role may open (0 = unchecked). Django holds one per thread,
#: so gunicorn.conf.py, rungrpc and runscheduler refuse a thread count above it (config.connection_budget_error).
DATABASE_MAX_CONN = int(config.get("database.maxConn", 32))
if DATABASE_MAX_CONN < 0:
    raise ImproperlyConfigured(f"database.maxConn must be 0 (unchecked) or positive, not {DATABASE_MAX_CONN}")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
IS_SQLITE = DATABASES["default"]["ENGINE"].endswith("sqlite3")
#: Read replica (docs/operations.md "Read replica"): the ``replica`` alias and its router exist only when
#: ``database.replicaUrl`` is set; records reads go to it while its lag is within ``max_lag`` seconds.
DATABASE_REPLICA = {"max_lag": float(config.get("database.replicaMaxLagSeconds", 5))}
_replica_url = str(config.get("database.replicaUrl") or "").strip()
if _replica_url:
    _replica = database_from_url(_replica_url)
    if IS_SQLITE or _replica["ENGINE"].endswith("sqlite3"):
        raise ImproperlyConfigured("database.replicaUrl needs MySQL/MariaDB replication: database.url and "
                                   "database.replicaUrl must both be mysql:// URLs")
    DATABASES["replica"] = _replica
    DATABASE_ROUTERS = ["djs_platform.dbrouter.ReadReplicaRouter"]
if IS_SQLITE and not DATABASES["default"]["NAME"].startswith(":"):
    (BASE_DIR / "var").mkdir(exist_ok=True)

REDIS_URL: str = str(config.get("redis.url") or "")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "djs",
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                "SOCKET_CONNECT_TIMEOUT": 2,
                "SOCKET_TIMEOUT": 2,
            },
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "djs_cache",
            "KEY_PREFIX": "djs",
            "OPTIONS": {"MAX_ENTRIES": 100000},
        }
    }

AUTH_USER_MODEL = "accounts.User"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "djs_platform.passwords.NotBlankPasswordValidator"},
    # Django's rule; its message from DJS's catalog (Django's zh_Hans lacks the 5.2 wording; docs/i18n.md)
    {"NAME": "djs_platform.passwords.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator",
     "OPTIONS": {"user_attributes": ("username", "real_name", "email")}},
]

# Every node computes fire times from the pinned `tzdata` package, never from the host's tz files, so
# machines with different OS updates agree on DST rules (docs/cron.md).
zoneinfo.reset_tzpath(to=[])

# --- language (docs/i18n.md, DESIGN §14.5) --------------------------------------------------------------
# Messages follow the request's Accept-Language (gRPC: accept-language metadata), else server.language
# (djs_platform.middleware.LanguageMiddleware, rpc.interceptors.ErrorInterceptor). LANGUAGE_CODE stays English:
# it is the language of everything said outside a request (scheduler threads write run errors once, as data).
USE_I18N = True
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
LOCALE_PATHS = [BASE_DIR / "locale"]
try:
    SERVER_LANGUAGE = server_language(config)
except ValueError as exc:
    raise ImproperlyConfigured(str(exc)) from None
TIME_ZONE = str(config.get("server.timezone") or "UTC")
USE_TZ = True

STATIC_URL = CONTEXT_PATH + "/static/"
STATIC_ROOT = BASE_DIR / "var" / "static"
try:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
except OSError:  # a tree this process may not write (another user's var/): the scheduler and gRPC need none
    pass
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
APPEND_SLASH = False

# --- security headers -----------------------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# HSTS is only sent on HTTPS requests, so it is safe to keep on when DJS also serves plain HTTP.
SECURE_HSTS_SECONDS = int(config.get("server.hstsSeconds", 31536000))
SECURE_HSTS_INCLUDE_SUBDOMAINS = bool(config.get("server.hstsIncludeSubdomains", True))
SECURE_HSTS_PRELOAD = bool(config.get("server.hstsPreload", True))
SECURE_SSL_REDIRECT = bool(config.get("server.sslRedirect", False))
if TRUSTED_PROXIES:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = not DEBUG
CSRF_FAILURE_VIEW = "djs_platform.envelope.csrf_failure"  # the JSON envelope (4003), not Django's HTML page
# TLS usually terminates at a proxy in front of DJS; redirecting plain HTTP is opt-in (server.sslRedirect),
# because health checks, Prometheus and `make run` talk plain HTTP on loopback.
SILENCED_SYSTEM_CHECKS = [] if SECURE_SSL_REDIRECT else ["security.W008"]
CORS_ALLOWED_ORIGINS: list[str] = list(config.get("server.corsAllowedOrigins") or [])

# --- REST framework --------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["djs_platform.authentication.JWTAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # The envelope's JSON parser/renderer: input checks of djs_platform.validation, output always UTF-8.
    "DEFAULT_RENDERER_CLASSES": ["djs_platform.envelope.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["djs_platform.envelope.JSONParser"],
    "EXCEPTION_HANDLER": "djs_platform.envelope.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
#: ``server.jsonMaxDepth``: deepest JSON nesting accepted from REST, gRPC and apply (docs/api.md, "Hostile input").
JSON_MAX_DEPTH = max(2, int(config.get("server.jsonMaxDepth", 64)))

ACCESS_TOKEN_LIFETIME = timedelta(hours=float(config.get("auth.jwtExpireHours", 24)))
REFRESH_TOKEN_LIFETIME = timedelta(hours=float(config.get("auth.refreshExpireHours", 168)))
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": ACCESS_TOKEN_LIFETIME,
    "REFRESH_TOKEN_LIFETIME": REFRESH_TOKEN_LIFETIME,
    "ALGORITHM": "HS256",
    "SIGNING_KEY": JWT_SECRET,
    "ISSUER": "djs",
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "sub",
    "TOKEN_TYPE_CLAIM": "typ",
    "JTI_CLAIM": "jti",
    "AUTH_HEADER_TYPES": ("Bearer",),
    "UPDATE_LAST_LOGIN": False,
    "LEEWAY": 0,
}
AUTH_SETTINGS = {
    "login_max_failures": int(config.get("auth.loginMaxFailures", 5)),
    "login_lockout_seconds": int(config.get("auth.loginLockoutSeconds", 300)),
    "login_rate_per_minute": int(config.get("auth.loginRatePerMinute", 30)),
    # POST /auth/refresh and gRPC RefreshToken / ValidateToken, per user and per client address (0 = no limit)
    "refresh_per_user_per_minute": int(config.get("auth.refreshPerUserPerMinute", 10)),
    "refresh_per_address_per_minute": int(config.get("auth.refreshPerAddressPerMinute", 60)),
    "validate_per_user_per_minute": int(config.get("auth.validatePerUserPerMinute", 600)),
    "validate_per_address_per_minute": int(config.get("auth.validatePerAddressPerMinute", 1200)),
    "revocation_fail_open": bool(config.get("auth.revocationFailOpen", False)),
}

SCHEDULER = {
    "http_workers": int(config.get("job.httpWorkers", 50)),
    "grpc_workers": int(config.get("job.grpcWorkers", 20)),
    "queue_size": int(config.get("job.queueSize", 100)),
    "heartbeat_interval": float(config.get("job.heartbeatInterval", 3)),
    "node_timeout": float(config.get("job.nodeTimeout", 15)),
    "poll_interval": float(config.get("job.pollInterval", 0.5)),
    "lookahead": float(config.get("job.lookahead", 2)),
    "claim_batch": int(config.get("job.claimBatch", 500)),
    "misfire_threshold": float(config.get("job.misfireThreshold", 60)),
    "shutdown_grace": float(config.get("job.shutdownGrace", 25)),
    # most links in a chain of child tasks (A -> B -> C is 2); docs/child-tasks.md
    "child_depth": int(config.get("job.childDepth", 5)),
    "metrics_port": int(config.get("job.metricsPort", 0)),
    "metrics_host": str(config.get("job.metricsHost", "127.0.0.1")),
    "shell_enabled": bool(config.get("job.shell.enabled", False)),
    # relative to the project directory unless absolute; one file per SHELL execution
    "shell_log_dir": str(BASE_DIR / str(config.get("job.shell.logDir") or "logs")),
    "shell_kill_grace": float(config.get("job.shell.killGrace", 5)),
    "shell_workers": int(config.get("job.shell.workers", 20)),
    # Who SHELL commands run as (docs/security.md finding 2, apps/tasks/executors/runas.py): a user name or
    # numeric "uid:gid"; per-department overrides {departmentId: runAs} (nearest ancestor wins); the node's
    # own user only with allowSameUser in the dev profile. Fresh 0700 working directories under workRoot.
    "shell_run_as": str(config.get("job.shell.runAs") or ""),
    "shell_run_as_departments": dict(config.get("job.shell.runAsDepartments") or
                                     config.section("job.shell.runAsDepartments")),
    "shell_allow_same_user": bool(config.get("job.shell.allowSameUser", False)),
    "shell_work_root": str(config.get("job.shell.workRoot") or ""),
    "keep_months": int(config.get("records.keepMonths", 0)),
    "rollup_keep_months": int(config.get("records.rollupKeepMonths", 24)),
}
if SCHEDULER["rollup_keep_months"] < 0 or SCHEDULER["keep_months"] < 0:
    raise ImproperlyConfigured("records.keepMonths and records.rollupKeepMonths must be 0 (forever) or positive")
if SCHEDULER["keep_months"] and SCHEDULER["rollup_keep_months"] and \
        SCHEDULER["rollup_keep_months"] < SCHEDULER["keep_months"]:
    raise ImproperlyConfigured(
        f"records.rollupKeepMonths ({SCHEDULER['rollup_keep_months']}) is below records.keepMonths "
        f"({SCHEDULER['keep_months']}): the dashboard would lose months whose records are still kept; "
        "set it to at least keepMonths, or 0 (forever)")
#: ``scheduler.jobs``: declarative tasks ``manage.py bootstrap`` applies as the admin (docs/djsctl.md).
SCHEDULER_JOBS = config.get("scheduler.jobs") or []
#: ``departments.maxDepth``: most levels of the department tree, the top department being level 1 (issue 16).
DEPARTMENT_MAX_DEPTH = int(config.get("departments.maxDepth", 20))
RPC = {
    "host": str(config.get("rpc.host") or "127.0.0.1"),
    "port": int(config.get("rpc.port", 9090)),
    "max_workers": int(config.get("rpc.maxWorkers", 16)),
    "max_concurrent_streams": int(config.get("rpc.maxConcurrentStreams", 100)),
    "keepalive_time": float(config.get("rpc.keepAliveTime", 30)),
    "keepalive_timeout": float(config.get("rpc.keepAliveTimeout", 10)),
    "metrics_port": int(config.get("rpc.metricsPort", 0)),
}
EGRESS = {
    "allowPrivate": bool(config.get("security.egress.allowPrivate", False)),
    "allowCidrs": list(config.get("security.egress.allowCidrs") or [])
    + (["127.0.0.0/8", "::1/128"] if DEBUG else []),
    "denyCidrs": list(config.get("security.egress.denyCidrs") or []),
    "allowHosts": list(config.get("security.egress.allowHosts") or []),
    "denyHosts": list(config.get("security.egress.denyHosts") or []),
}
#: ``executors.*``: the executor registry (docs/executors.md).
EXECUTORS = {
    # POST /executors/register and /deregister (and gRPC) per user per minute; beyond: 4029 (0 = no limit)
    "register_per_user_per_minute": int(config.get("executors.registerPerUserPerMinute", 120)),
}

SPECTACULAR_SETTINGS = {
    "TITLE": "DJS API",
    "DESCRIPTION": "Multi-tenant distributed job scheduler. Every response uses the "
    '{"code", "message", "data"} envelope; errors carry codes 4001/4003/4004/4009/4010/4029/5000.',
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": CONTEXT_PATH,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    # The envelope first, then the output shapes narrowed for typed clients (web-ui/src/api/schema.gen.ts).
    "POSTPROCESSING_HOOKS": ["djs_platform.schema.envelope_postprocessing_hook",
                             "djs_platform.openapi.typed_outputs_postprocessing_hook"],
}
METRICS_ENABLED = bool(config.get("server.metricsEnabled", True))
DOCS_ENABLED = bool(config.get("server.docsEnabled", True))
# OpenTelemetry (djs_platform/tracing.py, docs/observability.md): exporter none | console | otlp.
#: Alerts (apps/alerts, docs/alerts.md): policies per task / department default, evaluated by scheduler nodes.
ALERTS = {
    "enabled": bool(config.get("alerts.enabled", True)),
    "cooldown": int(config.get("alerts.cooldown", 300)),
    "max_per_minute": int(config.get("alerts.maxPerMinute", 30)),
    "webhook_timeout": float(config.get("alerts.webhookTimeout", 5)),
    "queue_size": int(config.get("alerts.queueSize", 1000)),
    "console_url": str(config.get("alerts.consoleUrl") or ""),
    "smtp": {
        "host": str(config.get("alerts.smtp.host") or ""),
        "port": int(config.get("alerts.smtp.port", 25)),
        "username": str(config.get("alerts.smtp.username") or ""),
        "password": str(config.get("alerts.smtp.password") or ""),
        "from": str(config.get("alerts.smtp.from") or "djs@localhost"),
        "starttls": bool(config.get("alerts.smtp.starttls", False)),
        "ssl": bool(config.get("alerts.smtp.ssl", False)),
        "timeout": float(config.get("alerts.smtp.timeout", 10)),
    },
}
TRACING = {
    "exporter": str(config.get("tracing.exporter") or "none").strip().lower(),
    "otlpEndpoint": str(config.get("tracing.otlpEndpoint") or "http://127.0.0.1:4318/v1/traces"),
    "serviceName": str(config.get("tracing.serviceName") or "djs"),
    "sampleRatio": float(config.get("tracing.sampleRatio", 1.0)),
}

_level = str(config.get("log.level") or "INFO").upper()
LOG_LEVEL = {"WARN": "WARNING"}.get(_level, _level)
#: ``log.path`` / ``log.maxSize`` / ``log.maxBackups`` / ``log.maxAge``: one file per process role besides stderr,
#: added when the role starts (djs_platform/logs.py: runscheduler, rungrpc, gunicorn).
try:
    LOG_FILES = LogFiles.from_config(config)
except ValueError as exc:
    raise ImproperlyConfigured(str(exc)) from None
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "stream": sys.stderr}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False},
        "django.db.backends": {"level": "INFO"},
        # httpx logs every request URL at INFO; task URLs may carry tokens.
        "httpx": {"level": "WARNING"},
    },
}
