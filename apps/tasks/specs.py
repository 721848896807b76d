"""``TaskSpec``: the typed input of the task services (issue 18, DESIGN §14.4).

Every way a task comes in builds one: the REST routes (``POST/PUT /tasks/http|grpc|shell``), gRPC
``ScheduleTask``/``BatchScheduleTasks`` and declarative apply (``POST /tasks/apply``, ``manage.py apply_tasks``,
``scheduler.jobs``). A caller only maps its wire names onto the spec's fields and fills its own defaults (gRPC:
the caller's department, status enabled, GET or POST); :meth:`TaskSpec.from_values` then owns every rule of a
task's input:

* types, lengths and ranges, worded as the REST fields always were (:mod:`djs_platform.inputs`);
* the hostile-input checks of :mod:`djs_platform.validation` (lone surrogates, NUL in a header, JSON depth);
* cron grammar and time zone (:mod:`apps.tasks.schedule`);
* URLs (absolute http(s), no credentials), the HTTP method and header rules (:mod:`apps.tasks.httprules`, the
  same the executor applies), gRPC ``host:port/package.Service`` targets and method names;
* the save-time egress check (:meth:`djs_platform.egress.EgressPolicy.check_saved_host`: deny-listed and cloud
  metadata targets are refused when saved, not only when called);
* the rules of each task type (SHELL arguments, working directory, environment).

Problems are raised as one 4001 whose ``fields`` are the spec's field names (``max_retry``,
``child_task_ids.0``); :func:`document_name` gives the name a REST body, a gRPC ``params`` object and a
declarative entry use for each (``retryCount``, ``childTaskIds.0``). Rules that need the database (department
scope, child graph, name uniqueness, the SHELL working directory on this host) stay in the services and use
the same field names.
"""
from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext as _

from apps.tasks import httprules, routing
from apps.tasks.models import ConcurrencyPolicy, MisfirePolicy, TaskStatus, TaskType
from apps.tasks.schedule import MAX_EXPRESSION_LENGTH, Schedule, ScheduleError, load_timezone, parse_schedule
from djs_platform import errors, inputs, validation
from djs_platform.egress import EgressDenied, EgressPolicy
from djs_platform.inputs import MISSING, Invalid, Problems

MAX_NAME = 255
MAX_DESCRIPTION = 10000
MAX_TIMEZONE = 64
MAX_URL = 2048
MAX_BODY = 65536
MAX_RETRY = 100
MAX_SECONDS = 86400
#: Most child tasks one task may name (``childTaskIds``).
MAX_CHILDREN = 20
MAX_GRPC_SERVICE = 255
MAX_GRPC_METHOD = 128
MAX_SHELL_COMMAND = 1024
MAX_SHELL_ARGS = 200
MAX_SHELL_ARG = 8192
MAX_SHELL_ENV = 100

GRPC_SERVICE = re.compile(r"^(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]{1,253}):(?P<port>\d{1,5})/"
                          r"(?P<service>[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+)$")
GRPC_METHOD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")

#: The fields every task has, in the order their problems are reported.
COMMON_FIELDS = ("name", "description", "department_id", "cron", "timezone", "max_retry", "retry_interval",
                 "timeout", "concurrency_policy", "misfire_policy", "status", "child_task_ids")
#: The fields of each task type (the other types' fields are empty).
TYPE_FIELDS: dict[str, tuple[str, ...]] = {
    TaskType.HTTP: ("url", "http_method", "body", "headers", "fallback_url", "route_strategy"),
    TaskType.GRPC: ("grpc_service", "grpc_method", "grpc_params", "fallback_grpc_service", "fallback_grpc_method",
                    "route_strategy"),
    TaskType.SHELL: ("shell_command", "shell_args", "shell_workdir", "shell_env"),
}
#: Spec field -> the name a task document uses for it: the body of ``POST /v1/tasks/http|grpc|shell``, which is
#: also gRPC ``ScheduleTaskRequest.params`` and a declarative entry (docs/api.md).
DOCUMENT_NAMES: dict[str, str] = {
    "name": "name", "description": "description", "department_id": "departmentId", "cron": "cron",
    "timezone": "timezone", "max_retry": "retryCount", "retry_interval": "retryInterval", "timeout": "timeout",
    "concurrency_policy": "concurrencyPolicy", "misfire_policy": "misfirePolicy", "status": "status",
    "child_task_ids": "childTaskIds",
    "url": "url", "http_method": "httpMethod", "body": "body", "headers": "headers", "fallback_url": "fallbackUrl",
    "grpc_service": "grpcService", "grpc_method": "grpcMethod", "grpc_params": "grpcParams",
    "fallback_grpc_service": "fallbackGrpcService", "fallback_grpc_method": "fallbackGrpcMethod",
    "shell_command": "shellCommand", "shell_args": "shellArgs", "shell_workdir": "shellWorkdir",
    "shell_env": "shellEnv", "route_strategy": "routeStrategy",
}
SPEC_NAMES: dict[str, str] = {document: spec for spec, document in DOCUMENT_NAMES.items()}
_HEAD = re.compile(r"^([A-Za-z_]+)(.*)$", re.DOTALL)


def document_name(spec_field: str) -> str:
    """The task document's name of a spec field, suffix kept: ``max_retry`` -> ``retryCount``,
    ``child_task_ids.0`` -> ``childTaskIds.0``. Anything else is returned as it is."""
    match = _HEAD.match(spec_field)
    if match is None or match.group(1) not in DOCUMENT_NAMES:
        return spec_field
    return DOCUMENT_NAMES[match.group(1)] + match.group(2)


def document_values(task_type: str, document: Mapping[str, Any], *,
                    extra: tuple[str, ...] = ()) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """A task document (camelCase keys) as spec values, and the problems of the keys a task of ``task_type``
    does not have (``{"id": ["unknown field"]}``, keyed by the document's names). ``extra`` are keys the caller
    handles itself (``version`` of a REST update); they are neither values nor unknown."""
    allowed = {DOCUMENT_NAMES[name] for name in COMMON_FIELDS + TYPE_FIELDS[task_type]}
    unknown = inputs.unknown_fields(document, allowed | set(extra))
    values = {SPEC_NAMES[key]: value for key, value in document.items() if key in allowed}
    return values, unknown


def http_url_problem(value: str) -> str | None:
    """An absolute http(s) URL without credentials and with a valid port."""
    try:
        parts = urlsplit(value)
    except ValueError:  # "http://[::1": not a URL at all
        return _("must be an absolute http:// or https:// URL")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return _("must be an absolute http:// or https:// URL")
    if parts.username or parts.password:
        return _("credentials in the URL are not allowed; use headers")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        return _("invalid port")
    return None


def target_url_problem(value: str) -> str | None:
    """An HTTP task's target: an absolute http(s) URL, or ``executor://<name>/<path>`` (a registry name)."""
    if value.lower().startswith(routing.EXECUTOR_SCHEME):
        return routing.executor_url_problem(value)
    return http_url_problem(value)


def url_egress_problem(value: str) -> str | None:
    """The save-time egress check of a URL (a registry name is checked when its instances register)."""
    return None if routing.named_http(value) else egress_problem(urlsplit(value).hostname)


def grpc_target_problem(value: str) -> str | None:
    """A gRPC task's target: ``host:port/package.Service``, or a registered service name (``orders.Billing``)."""
    if "/" not in value and ":" not in value:
        return None if routing.named_grpc(value) else (
            _("must be host:port/package.Service or a registered service name like orders.Billing"))
    return grpc_service_problem(value)


def grpc_service_problem(value: str) -> str | None:
    match = GRPC_SERVICE.match(value)
    if not match or not 1 <= int(match.group("port")) <= 65535:
        return _("must be host:port/package.Service, e.g. 10.0.0.5:50051/orders.Billing")
    return None


def grpc_method_problem(value: str) -> str | None:
    return None if GRPC_METHOD.match(value) else _("must be a method name like GetOrder")


def egress_problem(host: str | None) -> str | None:
    """The save-time egress check of one target host (``security.egress``; the call itself is checked again)."""
    if not host:
        return None
    try:
        EgressPolicy.of(settings.DJS_EGRESS).check_saved_host(host)
    except EgressDenied as exc:
        return str(exc)
    except ValueError:  # a broken security.egress is the start-up's error, not this task's
        return None
    return None


def shell_env_problem(env: dict[str, Any]) -> str | None:
    """Environment variables added to a SHELL task's minimal environment; names DJS_* are set by DJS."""
    if len(env) > MAX_SHELL_ENV:
        return _("at most %(max_shell_env)s variables") % {"max_shell_env": MAX_SHELL_ENV}
    for name, value in env.items():
        if not ENV_NAME.match(name):
            return _("invalid variable name %(name)r") % {"name": name}
        if name.upper().startswith("DJS_"):
            return _("variable %(name)r: names DJS_* are set by DJS") % {"name": name}
        if not isinstance(value, str) or "\x00" in value or len(value) > MAX_SHELL_ARG:
            return _("variable %(name)r must be a string without NUL characters") % {"name": name}
    return None


@dataclass(frozen=True)
class TaskSpec:
    """What a task is to be: the input of ``task_create`` and ``task_update`` (the whole task; an update
    replaces every field, except ``child_task_ids`` None = keep the children).

    Build it with :meth:`from_values`, which checks everything and answers a spec whose ``schedule`` is set. A
    spec constructed directly is checked by the services before use (:meth:`checked`). Mappings (``headers``,
    ``grpc_params``, ``shell_env``) are read, never changed."""

    task_type: str
    name: str
    department_id: int
    cron: str
    status: int
    timezone: str | None = None  # None: the platform zone (server.timezone)
    description: str | None = None
    timeout: int = 30
    max_retry: int = 0
    retry_interval: int = 0
    concurrency_policy: str = ConcurrencyPolicy.ALLOW.value
    misfire_policy: str = MisfirePolicy.SKIP.value
    child_task_ids: tuple[int, ...] | None = None  # None: none on create, unchanged on update
    # HTTP
    url: str | None = None
    http_method: str | None = None
    headers: dict[str, str] | None = None
    body: str | None = None
    fallback_url: str | None = None
    # GRPC
    grpc_service: str | None = None
    grpc_method: str | None = None
    grpc_params: dict[str, Any] | None = None
    fallback_grpc_service: str | None = None
    fallback_grpc_method: str | None = None
    route_strategy: str | None = None  # HTTP and gRPC: None = round_robin (apps/tasks/routing.py)
    # SHELL: argv = [shell_command, *shell_args], no shell
    shell_command: str | None = None
    shell_args: tuple[str, ...] = ()
    shell_workdir: str | None = None
    shell_env: dict[str, str] | None = None
    #: The parsed schedule; set by :meth:`from_values` (which is how a checked spec is told apart).
    schedule: Schedule | None = field(default=None, compare=False, repr=False)

    # --- building ---------------------------------------------------------------------------------------------

    @classmethod
    def from_values(cls, task_type: str, values: Mapping[str, Any]) -> TaskSpec:
        """Check untyped ``values`` (spec field names; a field left out takes its default, ``name``,
        ``department_id``, ``cron``, ``status`` and each type's target are required) and answer the spec.
        Raises :class:`~djs_platform.errors.InvalidArgument` naming every offending field; nothing else."""
        if task_type not in TYPE_FIELDS:
            raise errors.invalid("task_type", _("must be one of %(type_fields)s")
                                              % {"type_fields": ', '.join(TYPE_FIELDS)})
        own = COMMON_FIELDS + TYPE_FIELDS[task_type]
        unknown = inputs.unknown_fields(values, own)
        if unknown:
            first = next(iter(unknown))
            raise errors.InvalidArgument(_("%(field)s: unknown field") % {"field": first}, fields=unknown)
        validation.check_value(dict(values))  # surrogates, NUL in a header, depth: for every caller alike
        problems = Problems()
        out = _common(problems, values)
        out.update(_TYPE_CHECKS[task_type](problems, values))
        problems.raise_if_any()
        # Rules across fields, once every field is valid (as the REST serializers checked them).
        out["timezone"] = out["timezone"] or settings.TIME_ZONE
        try:
            schedule = parse_schedule(out["cron"], out["timezone"])
        except ScheduleError as exc:
            raise errors.invalid("cron", str(exc)) from None
        if task_type == TaskType.GRPC and out["fallback_grpc_method"] and not out["fallback_grpc_service"]:
            raise errors.invalid("fallback_grpc_service", _("required when fallbackGrpcMethod is set"))
        return cls(task_type=TaskType(task_type).value, schedule=schedule, **out)

    def as_values(self) -> dict[str, Any]:
        """The spec's own values (those set), as :meth:`from_values` takes them."""
        own = COMMON_FIELDS + TYPE_FIELDS.get(self.task_type, ())
        return {name: getattr(self, name) for name in own if getattr(self, name) is not None}

    def checked(self) -> TaskSpec:
        """This spec if :meth:`from_values` built it, else the same values checked (4001 when invalid)."""
        if self.schedule is not None:
            return self
        return TaskSpec.from_values(self.task_type, self.as_values())

    def with_department(self, department_id: int) -> TaskSpec:
        return replace(self, department_id=department_id)

    # --- what is stored ---------------------------------------------------------------------------------------

    def columns(self) -> dict[str, Any]:
        """The task's columns (model field names); the other types' columns are cleared."""
        values: dict[str, Any] = {
            "name": self.name, "description": self.description or None, "department_id": self.department_id,
            "task_type": self.task_type, "cron_expression": self.cron.strip(),
            "timezone": self.timezone or settings.TIME_ZONE, "timeout": self.timeout, "max_retry": self.max_retry,
            "retry_interval": self.retry_interval, "concurrency_policy": self.concurrency_policy,
            "misfire_policy": self.misfire_policy, "status": self.status,
            "url": None, "http_method": "GET", "headers": None, "body": None, "fallback_url": None,
            "grpc_service": None, "grpc_method": None, "grpc_params": None,
            "fallback_grpc_service": None, "fallback_grpc_method": None,
            "shell_command": None, "shell_args": None, "shell_workdir": None, "shell_env": None,
            "route_strategy": self.route_strategy or routing.DEFAULT_STRATEGY,
        }
        if self.task_type == TaskType.HTTP:
            values.update(url=self.url, http_method=self.http_method or httprules.default_method(self.body),
                          headers=dict(self.headers) if self.headers else None, body=self.body,
                          fallback_url=self.fallback_url or None)
        elif self.task_type == TaskType.GRPC:
            values.update(grpc_service=self.grpc_service, grpc_method=self.grpc_method,
                          grpc_params=json.dumps(self.grpc_params) if self.grpc_params else None,
                          fallback_grpc_service=self.fallback_grpc_service or None,
                          fallback_grpc_method=(self.fallback_grpc_method or
                                                (self.grpc_method if self.fallback_grpc_service else None)))
        elif self.task_type == TaskType.SHELL:
            values.update(shell_command=self.shell_command, shell_args=list(self.shell_args),
                          shell_workdir=self.shell_workdir or None,
                          shell_env=dict(self.shell_env) if self.shell_env else None)
        return values


# --- the checks, field by field, in the order problems are reported -----------------------------------------------

def _value(values: Mapping[str, Any], name: str) -> Any:
    return values.get(name, MISSING)


def _after(problems: Problems, name: str, value: Any, check) -> Any:
    """A rule that runs once the field's type and length are right (``value`` not MISSING)."""
    if value is MISSING:
        return value
    problem = check(value)
    if problem:
        problems.add(name, problem)
        return MISSING
    return value


def _timezone_problem(value: str) -> str | None:
    try:
        load_timezone(value)
    except ScheduleError as exc:
        return str(exc)
    return None


def _child_ids(value: Any) -> list[int] | None:
    ids = inputs.items(value, lambda item: inputs.integer(item, min_value=1), max_length=MAX_CHILDREN)
    if ids is not None and len(set(ids)) != len(ids):
        raise Invalid(_("lists a task more than once"))
    return ids


def _common(problems: Problems, values: Mapping[str, Any]) -> dict[str, Any]:
    check = problems.check
    out: dict[str, Any] = {}
    out["name"] = check("name", _value(values, "name"), lambda v: inputs.text(v, max_length=MAX_NAME),
                        required=True)
    out["description"] = check("description", _value(values, "description"), lambda v: inputs.text(
        v, max_length=MAX_DESCRIPTION, blank=True, null=True), default=None) or None
    out["department_id"] = check("department_id", _value(values, "department_id"),
                                 lambda v: inputs.integer(v, min_value=1), required=True)
    out["cron"] = check("cron", _value(values, "cron"), lambda v: inputs.text(v, max_length=MAX_EXPRESSION_LENGTH),
                        required=True)
    timezone = check("timezone", _value(values, "timezone"), lambda v: inputs.text(v, max_length=MAX_TIMEZONE),
                     default=None)
    out["timezone"] = _after(problems, "timezone", timezone, _timezone_problem) if timezone else timezone
    out["max_retry"] = check("max_retry", _value(values, "max_retry"),
                             lambda v: inputs.integer(v, min_value=0, max_value=MAX_RETRY), default=0)
    out["retry_interval"] = check("retry_interval", _value(values, "retry_interval"),
                                  lambda v: inputs.integer(v, min_value=0, max_value=MAX_SECONDS), default=0)
    out["timeout"] = check("timeout", _value(values, "timeout"),
                           lambda v: inputs.integer(v, min_value=1, max_value=MAX_SECONDS), default=30)
    out["concurrency_policy"] = check("concurrency_policy", _value(values, "concurrency_policy"),
                                      lambda v: inputs.choice(v, ConcurrencyPolicy.values),
                                      default=ConcurrencyPolicy.ALLOW.value)
    out["misfire_policy"] = check("misfire_policy", _value(values, "misfire_policy"),
                                  lambda v: inputs.choice(v, MisfirePolicy.values), default=MisfirePolicy.SKIP.value)
    out["status"] = check("status", _value(values, "status"),
                          lambda v: inputs.integer(v, min_value=int(TaskStatus.DISABLED),
                                                          max_value=int(TaskStatus.ONE_SHOT)),
                          required=True)
    children = check("child_task_ids", _value(values, "child_task_ids"), _child_ids, default=None)
    out["child_task_ids"] = tuple(children) if isinstance(children, list) else None
    return out


def _http(problems: Problems, values: Mapping[str, Any]) -> dict[str, Any]:
    check = problems.check
    out: dict[str, Any] = {}
    url = check("url", _value(values, "url"),
                lambda v: inputs.text(v, max_length=MAX_URL, rules=[target_url_problem]), required=True)
    out["url"] = _after(problems, "url", url, url_egress_problem)
    method = check("http_method", _value(values, "http_method"), lambda v: inputs.text(v, max_length=10),
                   required=True)
    method = _after(problems, "http_method", method, httprules.method_problem)
    out["http_method"] = method.upper() if isinstance(method, str) else method
    out["body"] = check("body", _value(values, "body"), lambda v: inputs.text(
        v, max_length=MAX_BODY, blank=True, null=True, trim=False), default=None)
    headers = check("headers", _value(values, "headers"), lambda v: inputs.json_object(v, max_bytes=MAX_BODY),
                    default=None)
    out["headers"] = _after(problems, "headers", headers, httprules.headers_problem) if headers else None
    fallback = check("fallback_url", _value(values, "fallback_url"), lambda v: inputs.text(
        v, max_length=MAX_URL, blank=True, null=True), default=None)
    fallback = _after(problems, "fallback_url", fallback or None,
                      lambda v: target_url_problem(v) or url_egress_problem(v)) if fallback else None
    out["fallback_url"] = fallback
    out["route_strategy"] = _route_strategy(problems, values, "HTTP", out["url"])
    return out


def _route_strategy(problems: Problems, values: Mapping[str, Any], task_type: str, target: Any) -> str:
    """The strategy; ``broadcast`` only where the primary target names the registry (it fans out over a name's
    live instances; a literal address has one)."""
    strategy = problems.check("route_strategy", _value(values, "route_strategy"),
                              lambda v: inputs.choice(v, routing.ROUTE_STRATEGIES), default=routing.DEFAULT_STRATEGY)
    if strategy == routing.BROADCAST and isinstance(target, str) and routing.named(task_type, target) is None:
        problems.add("route_strategy", _("broadcast needs a registered executor name as the target "
                                         "(executor://<name>/... or a gRPC service name)"))
        return MISSING
    return strategy


def _grpc_host(value: str) -> str | None:
    match = GRPC_SERVICE.match(value)
    return match.group("host").strip("[]") if match else None


def _grpc(problems: Problems, values: Mapping[str, Any]) -> dict[str, Any]:
    check = problems.check
    out: dict[str, Any] = {}
    service = check("grpc_service", _value(values, "grpc_service"), lambda v: inputs.text(
        v, max_length=MAX_GRPC_SERVICE, rules=[grpc_target_problem]), required=True)
    out["grpc_service"] = _after(problems, "grpc_service", service, lambda v: egress_problem(_grpc_host(v)))
    method = check("grpc_method", _value(values, "grpc_method"),
                   lambda v: inputs.text(v, max_length=MAX_GRPC_METHOD), required=True)
    out["grpc_method"] = _after(problems, "grpc_method", method, grpc_method_problem)
    out["grpc_params"] = check("grpc_params", _value(values, "grpc_params"),
                               lambda v: inputs.json_object(v, max_bytes=MAX_BODY), default=None) or None
    fallback = check("fallback_grpc_service", _value(values, "fallback_grpc_service"), lambda v: inputs.text(
        v, max_length=MAX_GRPC_SERVICE, blank=True, null=True), default=None)
    out["fallback_grpc_service"] = _after(
        problems, "fallback_grpc_service", fallback,
        lambda v: grpc_target_problem(v) or egress_problem(_grpc_host(v))) if fallback else None
    fallback_method = check("fallback_grpc_method", _value(values, "fallback_grpc_method"), lambda v: inputs.text(
        v, max_length=MAX_GRPC_METHOD, blank=True, null=True), default=None)
    out["fallback_grpc_method"] = _after(problems, "fallback_grpc_method", fallback_method,
                                         grpc_method_problem) if fallback_method else None
    out["route_strategy"] = _route_strategy(problems, values, "GRPC", out["grpc_service"])
    return out


def _shell_workdir_problem(value: str) -> str | None:
    return None if value.startswith("/") else _("must be an absolute path")


def _shell(problems: Problems, values: Mapping[str, Any]) -> dict[str, Any]:
    check = problems.check
    out: dict[str, Any] = {}
    out["shell_command"] = check("shell_command", _value(values, "shell_command"),
                                 lambda v: inputs.text(v, max_length=MAX_SHELL_COMMAND), required=True)
    args = check("shell_args", _value(values, "shell_args"), lambda v: inputs.items(
        v, lambda item: inputs.text(item, max_length=MAX_SHELL_ARG, blank=True, trim=False),
        max_length=MAX_SHELL_ARGS), default=[])
    out["shell_args"] = tuple(args) if isinstance(args, list) else args
    workdir = check("shell_workdir", _value(values, "shell_workdir"), lambda v: inputs.text(
        v, max_length=MAX_SHELL_COMMAND, blank=True, null=True), default=None)
    out["shell_workdir"] = _after(problems, "shell_workdir", workdir, _shell_workdir_problem) if workdir else None
    env = check("shell_env", _value(values, "shell_env"), lambda v: inputs.json_object(v, max_bytes=MAX_BODY),
                default=None)
    out["shell_env"] = _after(problems, "shell_env", env, shell_env_problem) if env else None
    return out


_TYPE_CHECKS = {TaskType.HTTP: _http, TaskType.GRPC: _grpc, TaskType.SHELL: _shell}


def field_names() -> tuple[str, ...]:
    """Every spec field a caller may set (``schedule`` is the spec's own)."""
    return tuple(f.name for f in fields(TaskSpec) if f.name != "schedule")
