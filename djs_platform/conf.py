"""The configuration as typed settings: one frozen object per concern, read once from
:mod:`djs_platform.config`.

``djs_platform.settings`` builds each object once (``DJS_SERVER``, ``DJS_AUTH``, ``DJS_SCHEDULER`` ...) and
derives Django's own settings from them; code reads ``settings.DJS_<CONCERN>.<attribute>``. Every key is
*required*: its default lives only in ``configs/config.yaml``, so a key missing there is an error naming it,
never a second default written here. ``from_config`` converts types and refuses values that cannot work
(ImproperlyConfigured naming the key); what a value means at run time (a user name on this host, a reachable
Redis) is checked by the process that uses it.

Nothing here touches the file system: creating ``var/`` and the dev profile's JWT secret is start-up's
(:mod:`djs_platform.startup`).
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

from djs_platform.config import (
    BASE_DIR,
    DEFAULT_ADMIN_PASSWORDS,
    DEFAULT_JWT_SECRETS,
    SCHEDULER_DB_THREADS,
    Config,
)
from djs_platform.logs import LogFiles

#: The dev profile's per-install JWT secret (start-up writes it, settings read it).
DEV_JWT_SECRET_FILE = BASE_DIR / "var" / "jwt-secret"
#: ``server.language`` values (case-insensitive) and the Django language each selects (docs/i18n.md).
SERVER_LANGUAGES: dict[str, str] = {"en": "en", "zh-cn": "zh-hans"}
#: ``tracing.exporter`` values.
TRACING_EXPORTERS = ("none", "console", "otlp")
#: What the dev profile (server.debug) adds to ``security.egress.allowCidrs``: its targets run on loopback.
DEBUG_EGRESS_CIDRS = ("127.0.0.0/8", "::1/128")


# --- reading one key ----------------------------------------------------------------------------------

def _number(cfg: Config, key: str, kind: type[int] | type[float]) -> Any:
    value = cfg[key]
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise ImproperlyConfigured(f"{key} must be a number, not {value!r}") from None


def _int(cfg: Config, key: str) -> int:
    return _number(cfg, key, int)


def _float(cfg: Config, key: str) -> float:
    return _number(cfg, key, float)


def _bool(cfg: Config, key: str) -> bool:
    return bool(cfg[key])


def _str(cfg: Config, key: str) -> str:
    value = cfg[key]
    return "" if value is None else str(value)


def _required_str(cfg: Config, key: str) -> str:
    text = _str(cfg, key).strip()
    if not text:
        raise ImproperlyConfigured(f"{key} is empty: give it a value (its default is in configs/config.yaml)")
    return text


def _list(cfg: Config, key: str) -> tuple[str, ...]:
    """A list; ``"a,b"`` (an environment variable) is two entries."""
    value = cfg[key]
    if value is None:
        return ()
    if isinstance(value, str):
        value = [v for v in value.split(",") if v.strip()]
    if not isinstance(value, (list, tuple)):
        raise ImproperlyConfigured(f"{key} must be a list, not {value!r}")
    return tuple(str(v).strip() for v in value)


# --- the concerns ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ServerSettings:
    """``server.*``: the web process, the API's address and the HTTP security headers."""

    debug: bool
    host: str
    port: int
    workers: int
    threads: int
    context_path: str               # "/v1"
    timeout: int
    timezone: str
    language: str                   # the Django language code of server.language
    allowed_hosts: tuple[str, ...]
    trusted_proxies: tuple[str, ...]
    metrics_enabled: bool
    docs_enabled: bool
    cors_allowed_origins: tuple[str, ...]
    hsts_seconds: int
    hsts_include_subdomains: bool
    hsts_preload: bool
    ssl_redirect: bool
    json_max_depth: int             # deepest JSON nesting accepted from REST, gRPC and apply (at least 2)

    @property
    def api_prefix(self) -> str:
        """The URLconf prefix of the API: ``"v1/"``."""
        return self.context_path.lstrip("/") + "/"

    @classmethod
    def from_config(cls, cfg: Config) -> ServerSettings:
        return cls(
            debug=_bool(cfg, "server.debug"),
            host=_required_str(cfg, "server.host"),
            port=_int(cfg, "server.port"),
            workers=_int(cfg, "server.workers"),
            threads=_int(cfg, "server.threads"),
            context_path="/" + _str(cfg, "server.contextPath").strip("/"),
            timeout=_int(cfg, "server.timeout"),
            timezone=_required_str(cfg, "server.timezone"),
            language=server_language(cfg),
            allowed_hosts=_list(cfg, "server.allowedHosts"),
            trusted_proxies=_list(cfg, "server.trustedProxies"),
            metrics_enabled=_bool(cfg, "server.metricsEnabled"),
            docs_enabled=_bool(cfg, "server.docsEnabled"),
            cors_allowed_origins=_list(cfg, "server.corsAllowedOrigins"),
            hsts_seconds=_int(cfg, "server.hstsSeconds"),
            hsts_include_subdomains=_bool(cfg, "server.hstsIncludeSubdomains"),
            hsts_preload=_bool(cfg, "server.hstsPreload"),
            ssl_redirect=_bool(cfg, "server.sslRedirect"),
            json_max_depth=max(2, _int(cfg, "server.jsonMaxDepth")),
        )


def server_language(cfg: Config) -> str:
    """The Django language code of ``server.language``: the language of messages when a request names none DJS
    has, and of the rows seeded at bootstrap. Anything but ``en`` or ``zh-CN`` is ImproperlyConfigured."""
    raw = cfg["server.language"]
    try:
        return SERVER_LANGUAGES[str(raw).strip().lower()]
    except KeyError:
        raise ImproperlyConfigured(f"server.language is {raw!r}: use en or zh-CN") from None


@dataclass(frozen=True)
class DatabaseSettings:
    """``database.*``. ``url`` is ``sqlite:///...``, ``mysql://...`` or the original ``host:port`` form, which
    takes ``username``/``password``/``schema``; ``replica_url`` "" = no read replica."""

    url: str
    username: str
    password: str
    schema: str
    max_conn: int                   # most connections one process role may open (0 = unchecked)
    conn_max_age: int
    replica_url: str
    replica_max_lag_seconds: float

    @classmethod
    def from_config(cls, cfg: Config) -> DatabaseSettings:
        settings = cls(
            url=_required_str(cfg, "database.url"),
            username=_str(cfg, "database.username"),
            password=_str(cfg, "database.password"),
            schema=_str(cfg, "database.schema"),
            max_conn=_int(cfg, "database.maxConn"),
            conn_max_age=_int(cfg, "database.connMaxAge"),
            replica_url=_str(cfg, "database.replicaUrl").strip(),
            replica_max_lag_seconds=_float(cfg, "database.replicaMaxLagSeconds"),
        )
        if settings.max_conn < 0:
            raise ImproperlyConfigured(
                f"database.maxConn must be 0 (unchecked) or positive, not {settings.max_conn}")
        return settings


@dataclass(frozen=True)
class AuthSettings:
    """``auth.*``: token signing and lifetimes, the bootstrap admin, the login/refresh/validate rate limits
    (0 = no limit) and what a failing revocation store means.

    ``jwt_secret`` is the signing secret in force: in the dev profile (``server.debug``) a placeholder is
    replaced by the per-install secret start-up wrote to ``var/jwt-secret``. With ``server.debug`` off a
    placeholder secret or admin password is refused."""

    jwt_secret: str
    access_token_lifetime: timedelta
    refresh_token_lifetime: timedelta
    admin_username: str
    admin_password: str
    login_max_failures: int
    login_lockout_seconds: int
    login_rate_per_minute: int
    refresh_per_user_per_minute: int
    refresh_per_address_per_minute: int
    validate_per_user_per_minute: int
    validate_per_address_per_minute: int
    revocation_fail_open: bool

    @classmethod
    def from_config(cls, cfg: Config) -> AuthSettings:
        debug = _bool(cfg, "server.debug")
        secret = _str(cfg, "auth.jwtSecret")
        password = _str(cfg, "auth.adminPassword")
        if not debug:
            _refuse_default_secrets(secret, password)
        elif secret in DEFAULT_JWT_SECRETS:
            secret = _dev_jwt_secret()
        return cls(
            jwt_secret=secret,
            access_token_lifetime=timedelta(hours=_float(cfg, "auth.jwtExpireHours")),
            refresh_token_lifetime=timedelta(hours=_float(cfg, "auth.refreshExpireHours")),
            admin_username=_required_str(cfg, "auth.adminUsername"),
            admin_password=password,
            login_max_failures=_int(cfg, "auth.loginMaxFailures"),
            login_lockout_seconds=_int(cfg, "auth.loginLockoutSeconds"),
            login_rate_per_minute=_int(cfg, "auth.loginRatePerMinute"),
            refresh_per_user_per_minute=_int(cfg, "auth.refreshPerUserPerMinute"),
            refresh_per_address_per_minute=_int(cfg, "auth.refreshPerAddressPerMinute"),
            validate_per_user_per_minute=_int(cfg, "auth.validatePerUserPerMinute"),
            validate_per_address_per_minute=_int(cfg, "auth.validatePerAddressPerMinute"),
            revocation_fail_open=_bool(cfg, "auth.revocationFailOpen"),
        )


def needs_dev_jwt_secret(cfg: Config) -> bool:
    """Whether this configuration runs on the dev profile's per-install secret (start-up creates it)."""
    return _bool(cfg, "server.debug") and _str(cfg, "auth.jwtSecret") in DEFAULT_JWT_SECRETS


def _dev_jwt_secret() -> str:
    try:
        secret = DEV_JWT_SECRET_FILE.read_text().strip()
    except FileNotFoundError:
        secret = ""
    if not secret:
        raise ImproperlyConfigured(
            f"the dev profile's JWT secret {DEV_JWT_SECRET_FILE} does not exist yet: start DJS through "
            "manage.py, gunicorn or the test suite (their start-up, djs_platform.startup.prepare(), creates "
            "it), or set DJS_JWT_SECRET")
    return secret


def _refuse_default_secrets(secret: str, admin_password: str) -> None:
    """Production (DEBUG off) never runs on a published placeholder secret."""
    problems = []
    if secret in DEFAULT_JWT_SECRETS or len(secret) < 32:
        problems.append(
            "auth.jwtSecret is the default placeholder or shorter than 32 characters: "
            "set DJS_JWT_SECRET to a long random value (e.g. `openssl rand -hex 32`)"
        )
    if admin_password in DEFAULT_ADMIN_PASSWORDS:
        problems.append("auth.adminPassword is the default 'admin123': set DJS_ADMIN_PASSWORD")
    if problems:
        raise ImproperlyConfigured(
            "DJS refuses to start with DEBUG off and default secrets:\n  - "
            + "\n  - ".join(problems)
            + "\n(For local development only, DJS_DEBUG=true enables the embedded dev profile.)"
        )


@dataclass(frozen=True)
class SchedulerSettings:
    """``job.*`` (but ``job.shell``) and ``scheduler.jobs``: what a scheduler node runs with
    (``Node(config)``)."""

    http_workers: int
    grpc_workers: int
    queue_size: int                 # backlog at which a node stops claiming
    heartbeat_interval: float
    node_timeout: float
    poll_interval: float
    lookahead: float
    claim_batch: int
    misfire_threshold: float
    shutdown_grace: float
    child_depth: int                # most links in a chain of child tasks (A -> B -> C is 2)
    metrics_port: int
    metrics_host: str
    jobs: tuple[dict[str, Any], ...]  # declarative tasks ``manage.py bootstrap`` applies (docs/djsctl.md)

    @property
    def alive_window(self) -> float:
        """How long after a heartbeat that found it alive a node still starts claimed fires: two heartbeat
        intervals, at least 60 % of the node timeout, always below the timeout itself."""
        return min(max(2 * self.heartbeat_interval, 0.6 * self.node_timeout), self.node_timeout - 0.5)

    @classmethod
    def from_config(cls, cfg: Config) -> SchedulerSettings:
        jobs = cfg["scheduler.jobs"] or []
        if not isinstance(jobs, list):
            raise ImproperlyConfigured(f"scheduler.jobs must be a list of tasks, not {jobs!r}")
        return cls(
            http_workers=_int(cfg, "job.httpWorkers"),
            grpc_workers=_int(cfg, "job.grpcWorkers"),
            queue_size=_int(cfg, "job.queueSize"),
            heartbeat_interval=_float(cfg, "job.heartbeatInterval"),
            node_timeout=_float(cfg, "job.nodeTimeout"),
            poll_interval=_float(cfg, "job.pollInterval"),
            lookahead=_float(cfg, "job.lookahead"),
            claim_batch=_int(cfg, "job.claimBatch"),
            misfire_threshold=_float(cfg, "job.misfireThreshold"),
            shutdown_grace=_float(cfg, "job.shutdownGrace"),
            child_depth=_int(cfg, "job.childDepth"),
            metrics_port=_int(cfg, "job.metricsPort"),
            metrics_host=_str(cfg, "job.metricsHost"),
            jobs=tuple(jobs),
        )


@dataclass(frozen=True)
class ShellSettings:
    """``job.shell.*``: SHELL tasks on the scheduler hosts (docs/security.md finding 2).

    Who commands run as: ``run_as`` (a user name or numeric ``uid:gid``), per-department overrides
    ``run_as_departments`` ({department id: run as}, nearest ancestor wins), the node's own user only with
    ``allow_same_user`` in the dev profile; ``apps.tasks.executors.runas.ShellIdentities.of`` resolves them on
    the host that runs the commands. Fresh 0700 working directories under ``work_root`` ("" = the temp
    dir)."""

    enabled: bool
    log_dir: Path                   # one file per execution (job.shell.logDir, relative to the project)
    kill_grace: float
    workers: int
    run_as: str
    run_as_departments: dict[str, Any]
    allow_same_user: bool
    work_root: str

    @classmethod
    def from_config(cls, cfg: Config) -> ShellSettings:
        by_department = cfg.mapping("job.shell.runAsDepartments")
        return cls(
            enabled=_bool(cfg, "job.shell.enabled"),
            log_dir=BASE_DIR / _required_str(cfg, "job.shell.logDir"),
            kill_grace=_float(cfg, "job.shell.killGrace"),
            workers=_int(cfg, "job.shell.workers"),
            run_as=_str(cfg, "job.shell.runAs"),
            run_as_departments=dict(by_department),
            allow_same_user=_bool(cfg, "job.shell.allowSameUser"),
            work_root=_str(cfg, "job.shell.workRoot"),
        )


@dataclass(frozen=True)
class RecordsSettings:
    """``records.*``: retention of record tables and of their rollups, in months (0 = forever)."""

    keep_months: int
    rollup_keep_months: int

    @classmethod
    def from_config(cls, cfg: Config) -> RecordsSettings:
        keep, rollups = _int(cfg, "records.keepMonths"), _int(cfg, "records.rollupKeepMonths")
        if rollups < 0 or keep < 0:
            raise ImproperlyConfigured(
                "records.keepMonths and records.rollupKeepMonths must be 0 (forever) or positive")
        if keep and rollups and rollups < keep:
            raise ImproperlyConfigured(
                f"records.rollupKeepMonths ({rollups}) is below records.keepMonths ({keep}): the dashboard "
                "would lose months whose records are still kept; set it to at least keepMonths, or 0 "
                "(forever)")
        return cls(keep_months=keep, rollup_keep_months=rollups)


@dataclass(frozen=True)
class DepartmentSettings:
    """``departments.*``: ``max_depth`` levels of the department tree at most, the top department being 1."""

    max_depth: int

    @classmethod
    def from_config(cls, cfg: Config) -> DepartmentSettings:
        return cls(max_depth=_int(cfg, "departments.maxDepth"))


@dataclass(frozen=True)
class RpcSettings:
    """``rpc.*``: the gRPC server of ``manage.py rungrpc``."""

    host: str
    port: int
    max_workers: int                # handler threads
    max_concurrent_streams: int
    keepalive_time: float
    keepalive_timeout: float
    metrics_port: int

    @property
    def address(self) -> str:
        host = f"[{self.host.strip('[]')}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @classmethod
    def from_config(cls, cfg: Config) -> RpcSettings:
        return cls(
            host=_required_str(cfg, "rpc.host"),
            port=_int(cfg, "rpc.port"),
            max_workers=_int(cfg, "rpc.maxWorkers"),
            max_concurrent_streams=_int(cfg, "rpc.maxConcurrentStreams"),
            keepalive_time=_float(cfg, "rpc.keepAliveTime"),
            keepalive_timeout=_float(cfg, "rpc.keepAliveTimeout"),
            metrics_port=_int(cfg, "rpc.metricsPort"),
        )


@dataclass(frozen=True)
class EgressSettings:
    """``security.egress.*``: what task targets, executor addresses and alert webhooks may reach
    (``djs_platform.egress.EgressPolicy.of`` enforces it). The dev profile (``server.debug``) adds loopback to
    ``allow_cidrs``."""

    allow_private: bool
    allow_cidrs: tuple[str, ...]
    deny_cidrs: tuple[str, ...]
    allow_hosts: tuple[str, ...]
    deny_hosts: tuple[str, ...]

    @classmethod
    def from_config(cls, cfg: Config) -> EgressSettings:
        allow_private = cfg["security.egress.allowPrivate"]
        if not isinstance(allow_private, bool):
            raise ImproperlyConfigured(
                f"security.egress.allowPrivate must be true or false, not {allow_private!r}")
        allow_cidrs = _cidrs(cfg, "security.egress.allowCidrs")
        if _bool(cfg, "server.debug"):
            allow_cidrs += DEBUG_EGRESS_CIDRS
        return cls(allow_private=allow_private, allow_cidrs=allow_cidrs,
                   deny_cidrs=_cidrs(cfg, "security.egress.denyCidrs"),
                   allow_hosts=_list(cfg, "security.egress.allowHosts"),
                   deny_hosts=_list(cfg, "security.egress.denyHosts"))


def _cidrs(cfg: Config, key: str) -> tuple[str, ...]:
    cidrs = _list(cfg, key)
    for cidr in cidrs:
        try:
            ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            raise ImproperlyConfigured(f"{key}: {cidr!r} is not a network (address/prefix)") from None
    return cidrs


@dataclass(frozen=True)
class SmtpSettings:
    """``alerts.smtp.*``: the e-mail channel (``host`` "" = off)."""

    host: str
    port: int
    username: str
    password: str
    sender: str                     # alerts.smtp.from
    starttls: bool
    ssl: bool
    timeout: float

    @classmethod
    def from_config(cls, cfg: Config) -> SmtpSettings:
        return cls(host=_str(cfg, "alerts.smtp.host"), port=_int(cfg, "alerts.smtp.port"),
                   username=_str(cfg, "alerts.smtp.username"), password=_str(cfg, "alerts.smtp.password"),
                   sender=_required_str(cfg, "alerts.smtp.from"), starttls=_bool(cfg, "alerts.smtp.starttls"),
                   ssl=_bool(cfg, "alerts.smtp.ssl"), timeout=_float(cfg, "alerts.smtp.timeout"))


@dataclass(frozen=True)
class AlertSettings:
    """``alerts.*`` (apps/alerts, docs/alerts.md): policies per task / department default, evaluated by
    scheduler nodes."""

    enabled: bool
    cooldown: int
    max_per_minute: int
    webhook_timeout: float
    queue_size: int
    console_url: str
    smtp: SmtpSettings

    @classmethod
    def from_config(cls, cfg: Config) -> AlertSettings:
        return cls(enabled=_bool(cfg, "alerts.enabled"), cooldown=_int(cfg, "alerts.cooldown"),
                   max_per_minute=_int(cfg, "alerts.maxPerMinute"),
                   webhook_timeout=_float(cfg, "alerts.webhookTimeout"),
                   queue_size=_int(cfg, "alerts.queueSize"), console_url=_str(cfg, "alerts.consoleUrl"),
                   smtp=SmtpSettings.from_config(cfg))


@dataclass(frozen=True)
class TracingSettings:
    """``tracing.*`` (djs_platform/tracing.py, docs/observability.md): OpenTelemetry spans."""

    exporter: str                   # none | console | otlp
    otlp_endpoint: str
    service_name: str
    sample_ratio: float

    def __post_init__(self) -> None:
        if self.exporter not in TRACING_EXPORTERS:
            raise ImproperlyConfigured(f"tracing.exporter must be one of {', '.join(TRACING_EXPORTERS)}, "
                                       f"not {self.exporter!r}")
        if not 0.0 <= self.sample_ratio <= 1.0:
            raise ImproperlyConfigured(
                f"tracing.sampleRatio must be between 0 and 1, not {self.sample_ratio}")
        if self.exporter == "otlp" and urlsplit(self.otlp_endpoint).scheme not in ("http", "https"):
            raise ImproperlyConfigured(
                f"tracing.otlpEndpoint must be an http(s) URL, not {self.otlp_endpoint!r}")

    @classmethod
    def from_config(cls, cfg: Config) -> TracingSettings:
        return cls(exporter=_str(cfg, "tracing.exporter").strip().lower(),
                   otlp_endpoint=_str(cfg, "tracing.otlpEndpoint"),
                   service_name=_required_str(cfg, "tracing.serviceName"),
                   sample_ratio=_float(cfg, "tracing.sampleRatio"))


@dataclass(frozen=True)
class ExecutorRegistrySettings:
    """``executors.*``: the executor registry (docs/executors.md); register/deregister calls per user per
    minute, beyond them 4029 (0 = no limit)."""

    register_per_user_per_minute: int

    @classmethod
    def from_config(cls, cfg: Config) -> ExecutorRegistrySettings:
        return cls(register_per_user_per_minute=_int(cfg, "executors.registerPerUserPerMinute"))


@dataclass(frozen=True)
class LogSettings:
    """``log.*``: the root level and each process role's log file (djs_platform/logs.py)."""

    level: str                      # a logging level name (WARN is WARNING)
    files: LogFiles

    @classmethod
    def from_config(cls, cfg: Config) -> LogSettings:
        level = _required_str(cfg, "log.level").upper()
        try:
            files = LogFiles.from_config(cfg)
        except ValueError as exc:
            raise ImproperlyConfigured(str(exc)) from None
        return cls(level={"WARN": "WARNING"}.get(level, level), files=files)


@dataclass(frozen=True)
class RedisSettings:
    """``redis.url``: "" = caches and token state in the database."""

    url: str

    @classmethod
    def from_config(cls, cfg: Config) -> RedisSettings:
        return cls(url=_str(cfg, "redis.url").strip())


def connection_budget_error(role: str, cfg: Config, *, rpc_workers: int | None = None) -> str | None:
    """Why ``database.maxConn`` is too small for a process of ``role`` (web, grpc, scheduler), or None.

    Django keeps one connection per thread that uses the database (per database: a read replica has as many
    again), so a role needs as many as it has such threads: gunicorn's workers x threads for the web server,
    the handler threads of the gRPC server, five for a scheduler node. ``maxConn`` 0 = unchecked."""
    max_conn = DatabaseSettings.from_config(cfg).max_conn
    if role == "web":
        server = ServerSettings.from_config(cfg)
        needed = server.workers * server.threads
        how = f"server.workers {server.workers} x server.threads {server.threads}"
        fix = "lower server.workers or server.threads"
    elif role == "grpc":
        needed = int(rpc_workers or RpcSettings.from_config(cfg).max_workers)
        how, fix = f"{needed} gRPC handler threads (rpc.maxWorkers)", "lower rpc.maxWorkers"
    elif role == "scheduler":
        needed = SCHEDULER_DB_THREADS
        how, fix = "a scheduler node's control, starts, records and alerts threads", "no smaller node exists"
    else:
        raise ValueError(f"unknown process role {role!r}")
    if max_conn <= 0 or needed <= max_conn:
        return None
    return (f"database.maxConn is {max_conn}, but the {role} process may open {needed} database connections "
            f"({how}; one per thread): raise database.maxConn (DJS_DATABASE_MAX_CONN) or {fix}")
