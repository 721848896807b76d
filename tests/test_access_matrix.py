"""The tenant/permission matrix, generated from the URL configuration and the gRPC service descriptors.

Every REST route under ``/v1`` (``django.urls.get_resolver()``, each HTTP method its view implements) and every
method of every gRPC service the server registers (asked through server reflection, read from the descriptors)
must have an entry in :data:`REST_MATRIX` / :data:`GRPC_MATRIX`, written once below: which permission it
needs and which object it addresses, or why it has no tenant object. A route or method without an entry, or an
entry for a route or method that no longer exists, fails the test, so a new route cannot skip the matrix.

The actor sits in department A of ``HQ > A > A1, HQ > B`` (conftest ``org``): A has a parent (HQ), a sibling
(B) and a child (A1). For each entry with a tenant object, the object is put in each of those places and the
expected answer is:

=================  ==========================================  =========================================
object in          actor holding the permission                actor holding every other permission
=================  ==========================================  =========================================
own (A), child A1  allowed (0 / OK)                            forbidden (4003 / PERMISSION_DENIED)
sibling B, HQ      not found (4004 / NOT_FOUND), the same      forbidden (4003 / PERMISSION_DENIED)
                   message as a missing id; nothing changes
missing id         not found (4004 / NOT_FOUND)                forbidden (4003 / PERMISSION_DENIED)
=================  ==========================================  =========================================

Variants, each one the documented contract (docs/api.md):

* a department *referenced in a request body* (create a task or a user in it, the parent of a new department,
  ``ScheduleTask.department_id``) that is outside the scope is indistinguishable from a missing one:
  4001 / INVALID_ARGUMENT on that field ("department N not found"), nothing is created;
* list routes show the rows of A and A1 and never those of B or HQ;
* roles are platform-wide (no department): allowed with the permission, 4003 without;
* a route needing no permission code (reading departments) gives the same answers to an actor holding none.

Each REST cell runs in a savepoint that is rolled back, so cells cannot influence each other; gRPC cells go
through a real server (other threads, other connections) and get fresh objects.
"""
from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any

import grpc
import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone as dj_timezone
from google.protobuf import descriptor_pool
from google.protobuf.message_factory import GetMessageClass

from apps.accounts.models import ApiToken, AuditLog, Role, User
from apps.alerts.models import Alert, AlertPolicy
from apps.departments.models import Department
from apps.executors.models import Executor
from apps.records.models import RecordStatus
from apps.tasks.models import SchedulerNode, Task, TriggerRequest
from conftest import Api, Org
from djs_platform import tokens
from apps.accounts.permissions import PERMISSION_CODES
from rpc.tests.conftest import channel, rpc_server  # noqa: F401 - the real gRPC server fixtures
from tests.factories import RoleFactory, TaskFactory, UserFactory, add_record

MISSING = 10**12
#: An executor address the egress policy allows without asking DNS (a public IP literal; nothing is called).
PUBLIC_TARGET = "93.184.216.34:50051"
LOCATIONS = ("own", "child", "sibling", "parent", "missing")
INSIDE = ("own", "child")
RECORD_MONTH = (2026, 1)  # conftest creates the 2025-2027 month tables before any test transaction
NEW_PASSWORD = "Matrix-Passphrase-2026!"


# --- the matrix, written once --------------------------------------------------------------------------

@dataclass(frozen=True)
class NoTenant:
    """The route/method addresses no tenant object; ``reason`` says why."""

    reason: str
    optional: bool = False  # exists only with a setting (metrics, docs)


@dataclass(frozen=True)
class Cell:
    """``perm``: the code needed (a tuple: any one of them; None: authentication only). ``obj``: what the
    request addresses: ``task``/``grpc_task``/``user``/``department``/``record`` (an object in the location),
    ``create`` (a department id in the body), ``list:<kind>`` (rows of every location, only A's and A1's
    shown), ``platform`` (roles: no department)."""

    perm: str | tuple[str, ...] | None
    obj: str
    #: codes needed besides ``perm`` (all of them): holders get them too, and one more actor lacks only these
    also: tuple[str, ...] = ()
    #: expected code per location where the rule above does not apply, with the reason in the entry's comment
    override: dict[str, int] = field(default_factory=dict)


OWN_SESSION = "acts on the caller's own session or profile, never on another tenant's object"

REST_MATRIX: dict[str, NoTenant | dict[str, Cell]] = {
    "health": NoTenant("public liveness check, no data"),
    "shutdown": NoTenant("loopback-only process control, no tenant data (djs_platform/tests/test_health.py)"),
    "metrics": NoTenant("Prometheus exposition, aggregated and label-bounded, no tenant rows", optional=True),
    "schema": NoTenant("the OpenAPI document", optional=True),
    "docs": NoTenant("Swagger UI page", optional=True),
    "web-console": NoTenant("static console assets; the console calls the routes below"),
    "^.*$": NoTenant("catch-all: 4004 for every unknown route"),
    "auth-login": NoTenant("public login"),
    "auth-refresh": NoTenant(OWN_SESSION),
    "auth-logout": NoTenant(OWN_SESSION),
    "auth-userinfo": NoTenant(OWN_SESSION),
    "permission-list": NoTenant("the platform's permission catalogue, readable by every user"),
    "node-list": NoTenant("scheduler nodes are platform-wide, readable by every user (docs/console.md)"),
    "node-stats": NoTenant("per-node execution figures are platform-wide like the nodes list (seed 002)"),
    "scheduler-state": NoTenant("the platform-wide maintenance switch, readable by every user (docs/maintenance.md)"),
    "features": NoTenant("platform switches (job.shell.enabled, server.timezone), readable by every user (issue 20)"),
    "task-cron-preview": NoTenant("computes fire times from the query; reads no row"),
    "user-list": {"GET": Cell("user:manage", "list:user"),
                  "POST": Cell("user:manage", "create")},
    "user-detail": {"GET": Cell("user:manage", "user"), "PUT": Cell("user:manage", "user"),
                    "DELETE": Cell("user:manage", "user")},
    "user-password": {"PATCH": Cell("user:manage", "user")},
    # personal API tokens (issue 19): another user's need user:manage over them (your own need no permission,
    # apps/accounts/tests/test_api_tokens.py); DELETE addresses a token of a user in the location
    "user-token-list": {"GET": Cell("user:manage", "user"), "POST": Cell("user:manage", "user")},
    "user-token-detail": {"DELETE": Cell("user:manage", "user_token")},
    "role-list": {"GET": Cell(("role:manage", "user:manage"), "platform"),
                  "POST": Cell("role:manage", "platform")},
    "role-detail": {"GET": Cell(("role:manage", "user:manage"), "platform"),
                    "PUT": Cell("role:manage", "platform"), "DELETE": Cell("role:manage", "platform")},
    "audit-log-list": {"GET": Cell("system:manage", "list:audit")},
    "department-list": {"GET": Cell(None, "list:department"),
                        "POST": Cell("department:manage", "create")},
    # Deleting the actor's own department is refused as a conflict (it still holds the actor and A1), not
    # as a scope matter.
    "department-detail": {"GET": Cell(None, "department"), "PUT": Cell("department:manage", "department"),
                          "DELETE": Cell("department:manage", "department", override={"own": 4009})},
    "task-list": {"GET": Cell("task:view", "list:task")},
    "task-create-http": {"POST": Cell("task:create", "create")},
    "task-create-grpc": {"POST": Cell("task:create", "create")},
    "task-update-http": {"PUT": Cell("task:update", "task")},
    "task-update-grpc": {"PUT": Cell("task:update", "grpc_task")},
    # SHELL tasks also need task:shell (and job.shell.enabled, switched on for this test)
    "task-create-shell": {"POST": Cell("task:create", "create", also=("task:shell",))},
    "task-update-shell": {"PUT": Cell("task:update", "shell_task", also=("task:shell",))},
    "task-detail": {"GET": Cell("task:view", "task"), "DELETE": Cell("task:delete", "task")},
    "task-status": {"PATCH": Cell("task:update", "task")},
    "task-trigger": {"POST": Cell("task:execute", "task")},
    "task-kill": {"POST": Cell("task:execute", "task")},
    # a run-now request, scoped by its task (issue 18: GET /triggers/{id} names the record it became)
    "trigger-detail": {"GET": Cell("task:view", "trigger")},
    # declarative apply of one new task (docs/djsctl.md): the rules of a single create, errors on tasks[0].*
    "task-apply": {"POST": Cell("task:create", "create")},
    # the console's export (the declarative YAML of the named tasks) and import (apply of a YAML text), issue 20
    "task-export": {"GET": Cell("task:view", "task")},
    "task-import": {"POST": Cell("task:create", "create")},
    "record-list": {"GET": Cell("record:view", "list:record")},
    "record-stats": {"GET": Cell("record:view", "list:record")},
    "record-detail": {"GET": Cell("record:view", "record")},
    "record-log": {"GET": Cell("record:view", "shell_record")},
    # stop one execution (issue 20): the matrix's records are finished, so a holder in scope is told it is not
    # running (4009) and nothing changes; outside the scope it does not exist (4004)
    "record-kill": {"POST": Cell("task:execute", "record", override={"own": 4009, "child": 4009})},
    # maintenance mode is platform-wide (no department), like roles; it stops every tenant, so the code counts
    # only in the top department: the actor (department A) is refused (issue 16, test_security_round2.py)
    "scheduler-pause": {"POST": Cell("system:manage", "platform", override={"own": 4003})},
    # alert policies: every write needs task:update, a department default department:manage as well
    "alert-policy-list": {"GET": Cell("task:view", "list:alert_policy"),
                          "POST": Cell("task:update", "create", also=("department:manage",))},
    "alert-policy-detail": {"GET": Cell("task:view", "alert_policy"), "PUT": Cell("task:update", "alert_policy"),
                            "DELETE": Cell("task:update", "alert_policy")},
    "alert-policy-test": {"POST": Cell("task:update", "alert_policy")},
    "alert-list": {"GET": Cell("record:view", "list:alert")},
    "alert-detail": {"GET": Cell("record:view", "alert")},
    "scheduler-resume": {"POST": Cell("system:manage", "platform", override={"own": 4003})},
    # the executor registry (issue 19): entries of the scope in full; names a department's tasks resolve
    # (its own and its ancestors') by department; (de)registration names its department in the body
    "executor-list": {"GET": Cell("executor:view", "list:executor"), "POST": Cell("executor:manage", "create")},
    "executor-detail": {"GET": Cell("executor:view", "executor"), "PUT": Cell("executor:manage", "executor"),
                        "DELETE": Cell("executor:manage", "executor")},
    "executor-names": {"GET": Cell("executor:view", "department")},
    "executor-register": {"POST": Cell("executor:register", "create")},
    "executor-deregister": {"POST": Cell("executor:register", "create")},
}

GRPC_MATRIX: dict[str, NoTenant | Cell] = {
    "/auth.AuthService/Authenticate": NoTenant("public login"),
    "/auth.AuthService/ValidateToken": NoTenant("checks the token in the request, returns no tenant data"),
    "/auth.AuthService/RefreshToken": NoTenant(OWN_SESSION),
    "/auth.AuthService/GetUserPermissions": Cell("user:manage", "user"),
    "/scheduler.TaskScheduler/ScheduleTask": Cell("task:create", "create"),
    "/scheduler.TaskScheduler/BatchScheduleTasks": Cell("task:create", "create"),
    "/scheduler.TaskScheduler/PauseTask": Cell("task:update", "task"),
    "/scheduler.TaskScheduler/ResumeTask": Cell("task:update", "task"),
    "/scheduler.TaskScheduler/GetTaskStatus": Cell("task:view", "task"),
    "/scheduler.TaskScheduler/ExecuteTaskImmediately": Cell("task:execute", "task"),
    "/scheduler.TaskScheduler/DeleteTask": Cell("task:delete", "task"),
    "/scheduler.TaskScheduler/KillTask": Cell("task:execute", "task"),
    "/scheduler.TaskScheduler/KillExecution": Cell("task:execute", "record", override={"own": 4009, "child": 4009}),
    "/scheduler.TaskScheduler/PauseScheduler": Cell("system:manage", "platform", override={"own": 4003}),
    "/scheduler.TaskScheduler/ResumeScheduler": Cell("system:manage", "platform", override={"own": 4003}),
    "/data.DataService/GetTaskHistory": Cell("record:view", "task"),
    "/data.DataService/GetUserList": Cell("user:manage", "department"),
    "/data.DataService/GetDepartmentList": Cell(None, "list:department"),
    "/data.DataService/GetTaskStatistics": Cell("record:view", "department"),
    "/data.DataService/GetStatistics": Cell("record:view", "department"),
    "/rpc.proto.ModelContextService/GetModelContext": Cell("task:view", "task"),
    "/djs.ExecutorRegistry/Register": Cell("executor:register", "create"),
    "/djs.ExecutorRegistry/Deregister": Cell("executor:register", "create"),
    "/djs.ExecutorRegistry/List": Cell("executor:view", "department"),
    "/grpc.health.v1.Health/Check": NoTenant("standard health service, public"),
    "/grpc.health.v1.Health/Watch": NoTenant("standard health service, public"),
    "/grpc.health.v1.Health/List": NoTenant("standard health service, public"),
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo": NoTenant("server reflection, public"),
}

#: How a gRPC request addresses its object (the object's id, or a department id for ``create``).
GRPC_REQUESTS: dict[str, Callable[[int], dict[str, Any]]] = {
    "/auth.AuthService/GetUserPermissions": lambda i: {"user_id": i},
    "/scheduler.TaskScheduler/ScheduleTask": lambda d: schedule_request(d),
    "/scheduler.TaskScheduler/BatchScheduleTasks": lambda d: {"tasks": [schedule_request(d)]},
    "/data.DataService/GetTaskHistory": lambda i: {"task_id": i, "year": RECORD_MONTH[0],
                                                   "month": RECORD_MONTH[1]},
    "/data.DataService/GetUserList": lambda i: {"department_id": i},
    "/data.DataService/GetDepartmentList": lambda i: {"size": 100},
    "/data.DataService/GetTaskStatistics": lambda i: {"department_id": i},
    "/data.DataService/GetStatistics": lambda i: {"department_id": i},
    "/rpc.proto.ModelContextService/GetModelContext": lambda i: {"model_id": f"task:{i}"},
    "/scheduler.TaskScheduler/PauseScheduler": lambda i: {"reason": "access matrix"},
    "/scheduler.TaskScheduler/ResumeScheduler": lambda i: {},
    "/scheduler.TaskScheduler/KillExecution": lambda i: {"record_id": i, "year": RECORD_MONTH[0],
                                                         "month": RECORD_MONTH[1]},
    "/djs.ExecutorRegistry/Register": lambda d: {"name": "matrix.Rpc", "kind": "grpc", "address": PUBLIC_TARGET,
                                                 "department_id": d},
    "/djs.ExecutorRegistry/Deregister": lambda d: {"name": "matrix.Rpc", "kind": "grpc", "address": PUBLIC_TARGET,
                                                   "department_id": d},
    "/djs.ExecutorRegistry/List": lambda i: {"department_id": i},
}
TASK_REQUEST = lambda i: {"task_id": i}  # noqa: E731 - the other TaskScheduler methods


# --- enumerating what exists ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Route:
    name: str
    pattern: str  # "v1/tasks/<int:pk>/status"
    methods: tuple[str, ...]  # ("*",) for a plain function view

    def path(self, pk: int | None = None) -> str:
        return "/" + re.sub(r"<(?:\w+:)?pk>", str(pk), self.pattern)


def rest_routes() -> list[Route]:
    """Every URL pattern under /v1 with the HTTP methods its view implements (HEAD mirrors GET and OPTIONS is
    the framework's, so neither is listed)."""
    found: list[Route] = []

    def walk(patterns, prefix: str) -> None:
        for item in patterns:
            if isinstance(item, URLResolver):
                walk(item.url_patterns, prefix + str(item.pattern))
            elif isinstance(item, URLPattern):
                view = getattr(item.callback, "view_class", None) or getattr(item.callback, "cls", None)
                methods = ("*",) if view is None else tuple(
                    m.upper() for m in view.http_method_names if m not in ("head", "options") and hasattr(view, m))
                found.append(Route(item.name or str(item.pattern), prefix + str(item.pattern), methods))

    walk(get_resolver().url_patterns, "")
    return [r for r in found if r.pattern.startswith(settings.DJS_SERVER.api_prefix)]


def grpc_methods(channel: grpc.Channel) -> list[str]:
    """Full names of every method of every service the running server registers, from server reflection and
    the descriptors it serves."""
    from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
        ProtoReflectionDescriptorDatabase,
    )

    database = ProtoReflectionDescriptorDatabase(channel)
    pool = descriptor_pool.DescriptorPool(database)
    names = []
    for service_name in database.get_services():
        service = pool.FindServiceByName(service_name)
        names += [f"/{service.full_name}/{method.name}" for method in service.methods]
    return sorted(names)


def test_every_rest_route_has_a_matrix_entry(db):
    routes = rest_routes()
    missing = [f"{r.name} {m}" for r in routes for m in r.methods
               if r.name not in REST_MATRIX
               or (isinstance(REST_MATRIX[r.name], dict) and m not in REST_MATRIX[r.name])]
    assert not missing, f"routes without an access-matrix entry: {missing}"
    existing = {r.name: set(r.methods) for r in routes}
    stale = [name for name, entry in REST_MATRIX.items()
             if name not in existing and not (isinstance(entry, NoTenant) and entry.optional)]
    stale += [f"{name} {m}" for name, entry in REST_MATRIX.items() if isinstance(entry, dict)
              for m in entry if name in existing and m not in existing[name]]
    assert not stale, f"matrix entries for routes/methods that do not exist: {stale}"


# --- the world -----------------------------------------------------------------------------------------

class World:
    """Actors in A (one per permission set) and objects in every location, made on demand."""

    def __init__(self, org: Org):
        self.org = org
        self.departments = {"own": org.a, "child": org.a1, "sibling": org.b, "parent": org.hq}
        self.empty_role = RoleFactory(name="matrix-empty", codes=[])
        self._actors: dict[frozenset[str], User] = {}
        self._seq = 0
        # A node whose heartbeat stays fresh for the whole test, so a manual trigger is never refused (4009)
        # for want of a live scheduler instead of for the reason under test.
        now = dj_timezone.now()
        SchedulerNode.objects.create(name="matrix-node", host="h", pid=1, started_at=now,
                                     heartbeat_at=now + timedelta(hours=1))

    def actor(self, codes: frozenset[str]) -> User:
        if codes not in self._actors:
            self._actors[codes] = self.org.member(self.org.a, codes)
        return self._actors[codes]

    def codes_of(self, user: User) -> frozenset[str]:
        return next(codes for codes, u in self._actors.items() if u.pk == user.pk)

    def actors_for(self, cell: Cell) -> list[tuple[User, bool]]:
        """(actor, holds the permission): one holder per alternative, the actor holding every other code,
        and for ``also`` codes the actor holding every code but those."""
        if cell.perm is None:
            return [(self.actor(frozenset(PERMISSION_CODES)), True), (self.actor(frozenset()), True)]
        alternatives = (cell.perm,) if isinstance(cell.perm, str) else cell.perm
        also = frozenset(cell.also)
        actors = [(self.actor(frozenset({code}) | also), True) for code in alternatives]
        actors.append((self.actor(frozenset(PERMISSION_CODES - set(alternatives))), False))
        if also:
            actors.append((self.actor(frozenset(PERMISSION_CODES - also)), False))
        return actors

    def name(self, prefix: str) -> str:
        self._seq += 1
        return f"{prefix}-{self._seq}"

    def make(self, kind: str, location: str) -> int:
        """The id of an object of ``kind`` in ``location`` (``missing``: an id that does not exist)."""
        if location == "missing":
            return MISSING
        dept = self.departments[location]
        if kind in ("department", "create"):
            return dept.pk
        if kind == "task":
            return TaskFactory(department=dept, name=self.name("matrix-task"), status=0).pk
        if kind == "shell_task":
            return TaskFactory(department=dept, name=self.name("matrix-shell"), task_type="SHELL", url=None,
                               shell_command="/bin/true", status=0).pk
        if kind == "grpc_task":
            return TaskFactory(department=dept, name=self.name("matrix-grpc"), task_type="GRPC", url=None,
                               grpc_service="127.0.0.1:9/demo.Echo", grpc_method="Say", status=0).pk
        if kind == "trigger":
            task = TaskFactory(department=dept, name=self.name("matrix-triggered"), status=0)
            return TriggerRequest.objects.create(task=task, requested_at=dj_timezone.now()).pk
        if kind == "user":
            return UserFactory(username=self.name("matrix-user"), department=dept, role=self.empty_role).pk
        if kind == "user_token":
            owner = UserFactory(username=self.name("matrix-token-owner"), department=dept, role=self.empty_role)
            return ApiToken.objects.create(user=owner, name="matrix", prefix="djs_pat_matrix",
                                           token_hash=f"{self._next():064x}").pk
        if kind == "record":
            return make_record(dept.pk, task_id=MISSING + self._next()).pk
        if kind == "shell_record":
            return make_record(dept.pk, task_id=MISSING + self._next(), task_type="SHELL").pk
        if kind == "alert_policy":
            return make_alert_policy(TaskFactory(department=dept, name=self.name("matrix-alerted"), status=0)).pk
        if kind == "alert":
            return make_alert(dept.pk, self.name("matrix-alert")).pk
        if kind == "executor":
            return make_executor(dept.pk, self.name("matrix.Svc")).pk
        raise AssertionError(kind)

    def _next(self) -> int:
        self._seq += 1
        return self._seq


def make_record(department_id: int, task_id: int, task_type: str = "HTTP"):
    scheduled = datetime(*RECORD_MONTH, 10, 12, tzinfo=timezone.utc)
    return add_record(task_id=task_id, task_name=f"matrix-{task_id}", department_id=department_id,
                      task_type=task_type, scheduled_time=scheduled, status=RecordStatus.FAILED, cost_time=5,
                      executor="m")


def make_alert_policy(task: Task) -> AlertPolicy:
    # loopback port 9 (discard): a test alert sent by a holder is refused at once, nothing leaves the machine
    return AlertPolicy.objects.create(department_id=task.department_id, task=task, scope_key=f"task:{task.pk}",
                                      webhook_url="http://127.0.0.1:9/hook")


def make_alert(department_id: int, key: str) -> Alert:
    return Alert.objects.create(department_id=department_id, task_id=MISSING, task_name=key, kind="failure",
                                message="matrix", dedup_key=key, status="sent")


def make_executor(department_id: int, name: str) -> Executor:
    return Executor.objects.create(department_id=department_id, name=name, kind="grpc", address=PUBLIC_TARGET,
                                   source="manual")


def executor_body(department_id: int, name: str) -> dict[str, Any]:
    return {"departmentId": department_id, "name": name, "kind": "grpc", "address": PUBLIC_TARGET}


def http_task_body(department_id: int, name: str) -> dict[str, Any]:
    return {"name": name, "departmentId": department_id, "cron": "0 3 * * *", "status": 0,
            "url": "http://127.0.0.1:9/x", "httpMethod": "GET"}


def grpc_task_body(department_id: int, name: str) -> dict[str, Any]:
    return {"name": name, "departmentId": department_id, "cron": "0 3 * * *", "status": 0,
            "grpcService": "127.0.0.1:9/demo.Echo", "grpcMethod": "Say"}


def shell_task_body(department_id: int, name: str) -> dict[str, Any]:
    return {"name": name, "departmentId": department_id, "cron": "0 3 * * *", "status": 0,
            "shellCommand": "/bin/echo", "shellArgs": ["matrix"]}


_RPC_NAMES = itertools.count(1)


def schedule_request(department_id: int) -> dict[str, Any]:
    # a fresh name per call: task names are unique per department (issue 16) and gRPC cells commit
    body = http_task_body(department_id, f"matrix-rpc-{department_id}-{next(_RPC_NAMES)}")
    body.pop("departmentId")
    return {"handler": "http", "department_id": department_id, "params": json.dumps(body).encode()}


# --- REST ----------------------------------------------------------------------------------------------

def rest_request(world: World, route: str, method: str, pk: int) -> tuple[str, dict[str, Any] | None]:
    """(path with query, body) of one REST call addressing ``pk`` (for ``create``: the department id)."""
    r = ROUTES[route]
    month = f"?year={RECORD_MONTH[0]}&month={RECORD_MONTH[1]}"
    if route == "user-list" and method == "POST":
        return r.path(), {"username": world.name("matrix-new"), "password": NEW_PASSWORD, "realName": "New",
                          "departmentId": pk, "roleId": world.empty_role.pk, "status": 1}
    if route == "department-list" and method == "POST":
        return r.path(), {"name": world.name("matrix-dept"), "parentId": pk, "status": 1}
    if route == "task-create-http":
        return r.path(), http_task_body(pk, world.name("matrix-new"))
    if route == "task-create-grpc":
        return r.path(), grpc_task_body(pk, world.name("matrix-new"))
    if route == "task-apply":
        return r.path(), {"tasks": [{"type": "HTTP", **http_task_body(pk, world.name("matrix-apply"))}]}
    if route == "task-import":
        entry = {"type": "HTTP", **http_task_body(pk, world.name("matrix-import"))}
        return r.path(), {"document": json.dumps({"tasks": [entry]})}
    if route == "task-export":
        return r.path() + f"?ids={pk}", None
    if route == "task-create-shell":
        return r.path(), shell_task_body(pk, world.name("matrix-new"))
    if route == "user-detail" and method == "PUT":
        user = User.objects.filter(pk=pk).first()
        return r.path(pk), {"username": user.username if user else "ghost", "realName": "Renamed",
                            "departmentId": user.department_id if user else world.org.a.pk,
                            "roleId": world.empty_role.pk, "status": 1}
    if route == "user-password":
        return r.path(pk), {"newPassword": NEW_PASSWORD}
    if route == "user-token-list" and method == "POST":
        return r.path(pk), {"name": world.name("matrix-token")}
    if route == "user-token-detail":
        token = ApiToken.objects.filter(pk=pk).first()
        return r.path(token.user_id if token else MISSING).replace("<int:token_id>", str(pk)), None
    if route == "department-detail" and method == "PUT":
        dept = Department.objects.filter(pk=pk).first()
        return r.path(pk), {"name": dept.name if dept else "ghost", "parentId": dept.parent_id if dept else None,
                            "status": 1}
    if route == "task-update-http":
        task = Task.objects.filter(pk=pk).first()
        return r.path(pk), http_task_body(task.department_id if task else world.org.a.pk, "renamed")
    if route == "task-update-grpc":
        task = Task.objects.filter(pk=pk).first()
        return r.path(pk), grpc_task_body(task.department_id if task else world.org.a.pk, "renamed")
    if route == "task-update-shell":
        task = Task.objects.filter(pk=pk).first()
        return r.path(pk), shell_task_body(task.department_id if task else world.org.a.pk, "renamed")
    if route == "task-status":
        return r.path(pk), {"status": 1}
    if route in ("task-trigger", "task-kill"):
        return r.path(pk), {}
    if route in ("record-detail", "record-log", "record-kill"):
        return r.path(pk) + month, None
    if route == "alert-policy-list" and method == "POST":
        return r.path(), {"departmentId": pk, "onFailure": True, "webhookUrl": "http://127.0.0.1:9/hook"}
    if route == "alert-policy-detail" and method == "PUT":
        return r.path(pk), {"lagSeconds": 5}
    if route in ("alert-policy-list", "alert-list"):
        return r.path() + "?size=100", None
    if route in ("executor-register", "executor-deregister") or (route == "executor-list" and method == "POST"):
        return r.path(), executor_body(pk, world.name("matrix.Svc"))
    if route == "executor-detail" and method == "PUT":
        return r.path(pk), {"weight": 5}
    if route == "executor-list":
        return r.path() + "?size=100", None
    if route == "executor-names":
        return r.path() + f"?departmentId={pk}", None
    if route in ("record-list", "record-stats"):
        return r.path() + month + "&size=100", None
    if route in ("user-list", "task-list", "audit-log-list"):
        return r.path() + "?size=100", None
    if route in ("role-list",) and method == "POST":
        return r.path(), {"name": world.name("matrix-role"), "permissions": [], "status": 1}
    if route == "role-detail" and method == "PUT":
        return r.path(pk), {"name": world.name("matrix-role"), "permissions": [], "status": 1}
    return r.path(pk) if "<" in r.pattern else r.path(), None


ROUTES: dict[str, Route] = {}


def row_of(kind: str, pk: int) -> Any:
    """The addressed row as it is now (to prove a refused call changed nothing)."""
    model = {"task": Task, "grpc_task": Task, "shell_task": Task, "user": User, "department": Department,
             "alert_policy": AlertPolicy, "alert": Alert, "executor": Executor, "user_token": ApiToken}.get(kind)
    if model is None or pk == MISSING:
        return None
    return list(model.objects.filter(pk=pk).values())


def list_markers(world: World, kind: str) -> dict[str, Any]:
    """One row per location for a list route; returns location -> the value that identifies it in the list."""
    markers = {}
    for location, dept in world.departments.items():
        if kind == "task":
            markers[location] = TaskFactory(department=dept, name=world.name("matrix-list"), status=0).pk
        elif kind == "user":
            markers[location] = UserFactory(username=world.name("matrix-list"), department=dept,
                                            role=world.empty_role).pk
        elif kind == "department":
            markers[location] = dept.pk
        elif kind == "record":
            markers[location] = make_record(dept.pk, task_id=MISSING + world._next()).task_id
        elif kind == "alert_policy":
            task = TaskFactory(department=dept, name=world.name("matrix-list"), status=0)
            markers[location] = make_alert_policy(task).pk
        elif kind == "alert":
            markers[location] = make_alert(dept.pk, world.name("matrix-list")).pk
        elif kind == "executor":
            markers[location] = make_executor(dept.pk, world.name("matrix.List")).pk
        elif kind == "audit":
            markers[location] = AuditLog.objects.create(action="matrix.mark", object_type="task",
                                                        department_id=dept.pk).pk
    return markers


def listed(route: str, data: Any) -> set[int]:
    if route == "record-stats":
        return {row["taskId"] for row in data["topFailingTasks"]}
    rows = data["list"] if isinstance(data, dict) else data
    return {row["taskId"] if route == "record-list" else row["id"] for row in rows}


@dataclass
class Tally:
    cells: int = 0
    by_answer: dict[str, int] = field(default_factory=dict)

    def add(self, answer: str) -> None:
        self.cells += 1
        self.by_answer[answer] = self.by_answer.get(answer, 0) + 1


def expected_code(cell: Cell, location: str, holds: bool) -> int:
    if not holds:
        return 4003
    if location in cell.override:
        return cell.override[location]
    if cell.obj == "platform" or location in INSIDE:
        return 0
    return 4001 if cell.obj == "create" else 4004


def run_rest_cell(world: World, tally: Tally, route: str, method: str, cell: Cell, actor: User, holds: bool,
                  location: str) -> str:
    """One cell in a savepoint; returns the answer's message (to compare foreign with missing)."""
    with transaction.atomic():
        if cell.obj == "platform":  # a fresh role (no department), or a missing id
            pk = MISSING if location == "missing" else RoleFactory(name=world.name("matrix-r"), codes=[]).pk
            want = 4003 if not holds else cell.override.get(location, 4004 if location == "missing" else 0)
        else:
            pk = world.make(cell.obj, location)
            want = expected_code(cell, location, holds)
        before = row_of(cell.obj, pk)
        path, body = rest_request(world, route, method, pk)
        reply = Api(actor).call(method, path, body)
        context = f"{method} {path} by a holder of {sorted(world.codes_of(actor))} ({location}): "
        assert (reply.code, reply.status // 100) == (want, 2 if want == 0 else 4), context + repr(reply)
        reply.expect(want)
        if want:
            assert row_of(cell.obj, pk) == before, f"{method} {path} answered {want} but changed the row"
        if want == 4001:
            field_name = {"department-list": "parentId", "task-apply": "tasks[0].departmentId",
                          "task-import": "tasks[0].departmentId"}.get(route,
                                                                                              "departmentId")
            assert reply.data["fields"] == {field_name: [f"department {pk} not found"]}, reply.data
        transaction.set_rollback(True)
    cache.clear()
    tally.add(f"{want}")
    return reply.message


def run_rest_list_cells(world: World, tally: Tally, route: str, method: str, cell: Cell, actor: User,
                        holds: bool) -> None:
    with transaction.atomic():
        markers = list_markers(world, cell.obj.split(":")[1])
        path, _ = rest_request(world, route, method, 0)
        reply = Api(actor).call(method, path)
        if not holds:
            reply.expect(4003)
            tally.add("4003")
        else:
            shown = listed(route, reply.expect(0).data)
            for location, marker in markers.items():
                assert (marker in shown) == (location in INSIDE), (route, location, marker, shown)
                tally.add("listed" if location in INSIDE else "hidden")
        transaction.set_rollback(True)
    cache.clear()


def test_rest_access_matrix(org, capsys, settings):
    settings.DJS_SHELL = replace(settings.DJS_SHELL, enabled=True)
    ROUTES.update({r.name: r for r in rest_routes()})
    world = World(org)
    tally = Tally()
    for route in sorted(ROUTES):
        entry = REST_MATRIX[route]
        if isinstance(entry, NoTenant):
            continue
        for method in ROUTES[route].methods:
            cell = entry[method]
            for actor, holds in world.actors_for(cell):
                if cell.obj.startswith("list:"):
                    run_rest_list_cells(world, tally, route, method, cell, actor, holds)
                    continue
                # roles have no department: a role, and a missing id for the routes addressing one
                locations = LOCATIONS if cell.obj != "platform" else ("own", "missing") if "<" in \
                    ROUTES[route].pattern else ("own",)
                messages = {loc: run_rest_cell(world, tally, route, method, cell, actor, holds, loc)
                            for loc in locations}
                if holds and cell.obj not in ("platform", "create"):
                    # a foreign object is indistinguishable from a missing one
                    assert messages["sibling"] == messages["parent"] == messages["missing"], (route, method, messages)
    with capsys.disabled():
        print(f"\naccess matrix (REST): {tally.cells} cells checked {dict(sorted(tally.by_answer.items()))}")
    assert tally.cells > 200


# --- gRPC ----------------------------------------------------------------------------------------------

GRPC_CODES = {0: grpc.StatusCode.OK, 4001: grpc.StatusCode.INVALID_ARGUMENT, 4003: grpc.StatusCode.PERMISSION_DENIED,
              4004: grpc.StatusCode.NOT_FOUND, 4009: grpc.StatusCode.FAILED_PRECONDITION}


def build_message(message_class, values: dict[str, Any]):
    """A request message from a dict (nested messages and repeated messages included)."""
    fields = message_class.DESCRIPTOR.fields_by_name
    kwargs = {}
    for key, value in values.items():
        sub = fields[key].message_type
        if sub is not None and isinstance(value, list):
            value = [build_message(GetMessageClass(sub), item) for item in value]
        kwargs[key] = value
    return message_class(**kwargs)


def grpc_call(channel: grpc.Channel, method: str, request: dict[str, Any], user: User):
    """Call ``method`` with a request built from its descriptor; returns (status code, details, response)."""
    service, name = method.strip("/").rsplit("/", 1)
    descriptor = descriptor_pool.Default().FindServiceByName(service).FindMethodByName(name)
    request_class = GetMessageClass(descriptor.input_type)
    response_class = GetMessageClass(descriptor.output_type)
    stub = channel.unary_unary(method, request_serializer=request_class.SerializeToString,
                               response_deserializer=response_class.FromString)
    message = build_message(request_class, request)
    token = tokens.issue_pair(user).access
    try:
        response = stub(message, metadata=[("authorization", f"Bearer {token}")], timeout=30)
    except grpc.RpcError as err:
        return err.code(), err.details(), None
    return grpc.StatusCode.OK, "", response


@pytest.mark.django_db(transaction=True)
def test_grpc_access_matrix(org, channel, capsys):
    methods = grpc_methods(channel)
    missing = [m for m in methods if m not in GRPC_MATRIX]
    assert not missing, f"gRPC methods without an access-matrix entry: {missing}"
    stale = [m for m in GRPC_MATRIX if m not in methods]
    assert not stale, f"matrix entries for gRPC methods the server does not serve: {stale}"
    world = World(org)
    tally = Tally()
    for method in methods:
        cell = GRPC_MATRIX[method]
        if isinstance(cell, NoTenant):
            continue
        build = GRPC_REQUESTS.get(method, TASK_REQUEST)
        for actor, holds in world.actors_for(cell):
            if cell.obj.startswith("list:"):
                markers = list_markers(world, cell.obj.split(":")[1])
                code, details, response = grpc_call(channel, method, build(0), actor)
                assert code == grpc.StatusCode.OK, (method, code, details)
                shown = {d.id for d in response.departments}
                for location, marker in markers.items():
                    assert (marker in shown) == (location in INSIDE), (method, location)
                    tally.add("listed" if location in INSIDE else "hidden")
                continue
            details_by_location = {}
            # platform-wide methods (maintenance mode) address no object: one call per actor
            for location in ("own",) if cell.obj == "platform" else LOCATIONS:
                pk = 0 if cell.obj == "platform" else world.make(cell.obj, location)
                before = row_of(cell.obj, pk)
                want = expected_code(cell, location, holds)
                code, details, response = grpc_call(channel, method, build(pk), actor)
                if method.endswith("/BatchScheduleTasks") and code == grpc.StatusCode.OK:
                    # a batch answers per item: a refused item is reported, not raised
                    item = response.results[0]
                    code = grpc.StatusCode.OK if item.success else grpc.StatusCode[item.message.split(": ")[1]]
                    details = item.message
                assert code == GRPC_CODES[want], (method, location, holds, code, details)
                if want:
                    assert row_of(cell.obj, pk) == before, (method, location, "changed the row")
                if want == 4001:
                    assert "department_id" in details and f"department {pk} not found" in details, details
                details_by_location[location] = details
                tally.add(GRPC_CODES[want].name)
            if holds and cell.obj not in ("create", "platform"):
                assert (details_by_location["sibling"] == details_by_location["parent"]
                        == details_by_location["missing"]), (method, details_by_location)
    with capsys.disabled():
        print(f"\naccess matrix (gRPC): {tally.cells} cells checked {dict(sorted(tally.by_answer.items()))}")
    assert tally.cells > 100
