"""Django settings for DJS: derived from ``configs/config.yaml`` + ``DJS_*`` environment variables.

The configuration is read once, into one typed object per concern (djs_platform/conf.py): ``DJS_SERVER``,
``DJS_DATABASE``, ``DJS_REDIS``, ``DJS_AUTH``, ``DJS_SCHEDULER``, ``DJS_SHELL``, ``DJS_RECORDS``,
``DJS_DEPARTMENTS``, ``DJS_RPC``, ``DJS_EGRESS``, ``DJS_ALERTS``, ``DJS_TRACING``, ``DJS_EXECUTORS``,
``DJS_LOG``; code reads their attributes, and Django's own settings below are derived from them. Importing
this module writes nothing: the directories and the dev profile's JWT secret are start-up's
(djs_platform/startup.py, which every entry point runs first).

Test and production differences are data (environment), not code forks.
"""
from __future__ import annotations

import os
import sys
import zoneinfo
from urllib.parse import parse_qs, unquote, urlparse

from django.core.exceptions import ImproperlyConfigured

from djs_platform.conf import (
    AlertSettings,
    AuthSettings,
    DatabaseSettings,
    DepartmentSettings,
    EgressSettings,
    ExecutorRegistrySettings,
    LogSettings,
    RecordsSettings,
    RedisSettings,
    RpcSettings,
    SchedulerSettings,
    ServerSettings,
    ShellSettings,
    TracingSettings,
)
from djs_platform.config import BASE_DIR, config

DJS_SERVER = ServerSettings.from_config(config)
DJS_DATABASE = DatabaseSettings.from_config(config)
DJS_REDIS = RedisSettings.from_config(config)
DJS_AUTH = AuthSettings.from_config(config)
DJS_SCHEDULER = SchedulerSettings.from_config(config)
DJS_SHELL = ShellSettings.from_config(config)
DJS_RECORDS = RecordsSettings.from_config(config)
DJS_DEPARTMENTS = DepartmentSettings.from_config(config)
DJS_RPC = RpcSettings.from_config(config)
DJS_EGRESS = EgressSettings.from_config(config)
DJS_ALERTS = AlertSettings.from_config(config)
DJS_TRACING = TracingSettings.from_config(config)
DJS_EXECUTORS = ExecutorRegistrySettings.from_config(config)
DJS_LOG = LogSettings.from_config(config)

DEBUG: bool = DJS_SERVER.debug
SECRET_KEY = "djs-django:" + DJS_AUTH.jwt_secret
ALLOWED_HOSTS = list(DJS_SERVER.allowed_hosts)

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


def database_from_url(url: str, db: DatabaseSettings) -> dict:
    """``sqlite:///relative/or//abs/path`` or ``mysql://user:pass@host:port/schema?opt=v``.

    A bare ``host:port`` (the original DistributedJob form) uses database.username/password/schema.
    """
    if "://" not in url:
        host, _, port = url.partition(":")
        url = "mysql://{}:{}@{}:{}/{}".format(db.username, db.password, host or "127.0.0.1", port or "3306",
                                              db.schema)
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
            "CONN_MAX_AGE": db.conn_max_age,
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


DATABASES = {"default": database_from_url(DJS_DATABASE.url, DJS_DATABASE)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
IS_SQLITE = DATABASES["default"]["ENGINE"].endswith("sqlite3")
#: Read replica (docs/operations.md "Read replica"): the ``replica`` alias and its router exist only when
#: ``database.replicaUrl`` is set; records reads go to it while its lag is within replicaMaxLagSeconds.
if DJS_DATABASE.replica_url:
    _replica = database_from_url(DJS_DATABASE.replica_url, DJS_DATABASE)
    if IS_SQLITE or _replica["ENGINE"].endswith("sqlite3"):
        raise ImproperlyConfigured("database.replicaUrl needs MySQL/MariaDB replication: database.url and "
                                   "database.replicaUrl must both be mysql:// URLs")
    DATABASES["replica"] = _replica
    DATABASE_ROUTERS = ["djs_platform.dbrouter.ReadReplicaRouter"]

if DJS_REDIS.url:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": DJS_REDIS.url,
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
TIME_ZONE = DJS_SERVER.timezone
USE_TZ = True

STATIC_URL = DJS_SERVER.context_path + "/static/"
STATIC_ROOT = BASE_DIR / "var" / "static"  # made by start-up
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
SECURE_HSTS_SECONDS = DJS_SERVER.hsts_seconds
SECURE_HSTS_INCLUDE_SUBDOMAINS = DJS_SERVER.hsts_include_subdomains
SECURE_HSTS_PRELOAD = DJS_SERVER.hsts_preload
SECURE_SSL_REDIRECT = DJS_SERVER.ssl_redirect
if DJS_SERVER.trusted_proxies:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = not DEBUG
CSRF_FAILURE_VIEW = "djs_platform.envelope.csrf_failure"  # the JSON envelope (4003), not Django's HTML page
# TLS usually terminates at a proxy in front of DJS; redirecting plain HTTP is opt-in (server.sslRedirect),
# because health checks, Prometheus and `make run` talk plain HTTP on loopback.
SILENCED_SYSTEM_CHECKS = [] if SECURE_SSL_REDIRECT else ["security.W008"]

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
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": DJS_AUTH.access_token_lifetime,
    "REFRESH_TOKEN_LIFETIME": DJS_AUTH.refresh_token_lifetime,
    "ALGORITHM": "HS256",
    "SIGNING_KEY": DJS_AUTH.jwt_secret,
    "ISSUER": "djs",
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "sub",
    "TOKEN_TYPE_CLAIM": "typ",
    "JTI_CLAIM": "jti",
    "AUTH_HEADER_TYPES": ("Bearer",),
    "UPDATE_LAST_LOGIN": False,
    "LEEWAY": 0,
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
    "SCHEMA_PATH_PREFIX": DJS_SERVER.context_path,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    # The envelope first, then the output shapes narrowed for typed clients (web-ui/src/api/schema.gen.ts).
    "POSTPROCESSING_HOOKS": ["djs_platform.schema.envelope_postprocessing_hook",
                             "djs_platform.openapi.typed_outputs_postprocessing_hook"],
}
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "stream": sys.stderr}},
    "root": {"handlers": ["console"], "level": DJS_LOG.level},
    "loggers": {
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False},
        "django.db.backends": {"level": "INFO"},
        # httpx logs every request URL at INFO; task URLs may carry tokens.
        "httpx": {"level": "WARNING"},
    },
}
