"""API fuzzing with Schemathesis against the OpenAPI schema the platform serves at ``/v1/schema``.

Every operation of the schema is exercised in-process through Django's WSGI application. Each generated request
is sent twice: as the admin (every permission, top department) and as a limited user (``task:view`` and
``record:view`` only, in the child department A1). Generation is derandomized with a fixed seed, so a run is
reproducible (also in CI, where Hypothesis would otherwise load its own profile).

Profiles:

* ``make test`` (bounded, well under a minute per backend): the coverage phase with valid values (every
  boundary and example of every parameter and body field, deterministic) and the fuzzing phase with
  ``DJS_TEST_FUZZ_EXAMPLES`` (default 6) random valid and invalid requests per operation;
* ``make fuzz`` (``DJS_TEST_FUZZ_EXAMPLES=500``): the coverage phase also with invalid mutations of every
  parameter and body field and with every unexpected HTTP method, and 500 fuzzing examples per operation.

Each case must satisfy:

* no 5xx (``not_a_server_error``);
* the status code and the body are documented in the schema (``status_code_conformance``,
  ``content_type_conformance``, ``response_schema_conformance``, ``response_headers_conformance``);
* invalid input is refused (``negative_data_rejection``), an operation needing a token refuses a request
  without one (``ignored_auth``);
* bad input changes nothing: for every 4xx answer, a snapshot of the tenant tables (row counts and a
  checksum of tasks, departments, users, roles, role permissions, manual triggers, the maintenance switch) is
  identical before and after, and no audit row was written (except ``auth.login_failed``, which a wrong
  login must leave).

Destructive operations cannot break the run: each case runs in a savepoint that is rolled back afterwards,
and the cache (token revocation marks, login throttling) is cleared after each case, so a DELETE, a logout,
a password change or a disabled account never outlives its case. Path ids are steered to throwaway objects
(own department, child, sibling, parent, missing) so the fuzzer reaches real rows and not only 4004.
``GET /v1/shutdown`` is sent from a non-loopback peer: every call must be refused (4003) before anything is
scheduled, because a loopback call would SIGTERM the test runner itself; the loopback path is covered by
djs_platform/tests/test_health.py.

"""
from __future__ import annotations

import hashlib
import os
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.core.cache import cache
from django.db import close_old_connections, connection, transaction
from django.utils import timezone
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    allow_header_conformance,
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from apps.accounts.models import AuditLog, Role, RolePermission, User
from apps.alerts.models import Alert, AlertPolicy
from apps.executors.models import Executor
from apps.departments.models import Department
from apps.tasks.models import SchedulerNode, SchedulerState, Task, TaskChild, TriggerRequest
from djs_platform import tokens
from tests.factories import DepartmentFactory, RoleFactory, UserFactory

DEFAULT_EXAMPLES = 6
EXAMPLES = int(os.environ.get("DJS_TEST_FUZZ_EXAMPLES") or DEFAULT_EXAMPLES)
SEED = 20260801

#: ``positive_data_acceptance`` is left out on purpose: a request valid by the schema may rightly be refused
#: (4003 without the permission, 4004 outside the scope, 4009 on a conflict, 4001 for a cron the schema
#: cannot describe).
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance, negative_data_rejection, ignored_auth, unsupported_method,
          allow_header_conformance]

#: The limited user's permissions: read only.
LIMITED_CODES = frozenset({"task:view", "record:view"})
#: A peer outside loopback: ``/v1/shutdown`` must refuse it (a loopback call would stop the test runner).
FOREIGN_PEER = "192.0.2.10"
MISSING_ID = 10**12


# --- what "changes nothing" means ------------------------------------------------------------------

SNAPSHOT_MODELS = {"task": Task, "department": Department, "user": User, "role": Role,
                   "role_permission": RolePermission, "trigger_request": TriggerRequest,
                   "scheduler_state": SchedulerState, "task_child": TaskChild, "alert_policy": AlertPolicy,
                   "alert": Alert, "executor": Executor}


def snapshot() -> dict[str, Any]:
    """Row count and a checksum of every row of the tenant tables, plus the audit rows a 4xx must not add.

    Raw SQL (one query per table): it runs after every 4xx case, so it must cost well under a millisecond."""
    out: dict[str, Any] = {}
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for label, model in SNAPSHOT_MODELS.items():
            cursor.execute(f"SELECT * FROM {quote(model._meta.db_table)} ORDER BY {quote(model._meta.pk.column)}")
            rows = cursor.fetchall()
            out[label] = (len(rows), hashlib.sha256(repr(rows).encode()).hexdigest())
        # a wrong login is a 4010 that must leave its audit row; nothing else answered 4xx may write one
        cursor.execute(f"SELECT COUNT(*) FROM {quote(AuditLog._meta.db_table)} WHERE action <> %s",
                       ["auth.login_failed"])
        out["audit_log"] = cursor.fetchone()[0]
    return out


# --- the world the fuzzer runs in ------------------------------------------------------------------

@dataclass
class Actor:
    name: str
    user: User
    token: str
    pools: dict[str, list[int]]
    #: The tables before every case: each case is rolled back, so it is the state the world was built in.
    baseline: dict[str, Any] | None = None


#: Path prefix -> the kind of object ``{id}`` addresses.
ID_KINDS = (("/v1/users/", "user"), ("/v1/roles/", "role"), ("/v1/departments/", "department"),
            ("/v1/tasks/", "task"), ("/v1/records/", "record"), ("/v1/alert-policies/", "alert_policy"),
            ("/v1/alerts/", "alert"), ("/v1/triggers/", "trigger"), ("/v1/executors/", "executor"))


def _kind(path: str) -> str | None:
    return next((kind for prefix, kind in ID_KINDS if path.startswith(prefix)), None)


def steer_id(value: Any, pool: list[int]) -> Any:
    """A generated id of ordinary size becomes one of the throwaway objects (or stays as generated, one time
    in len(pool) + 1); huge, negative and non-integer values are sent as they are."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**31 or not pool:
        return value
    index = value % (len(pool) + 1)
    return pool[index] if index < len(pool) else value


def _task(department, name: str, **over) -> Task:
    values = dict(name=name, department=department, task_type="HTTP", cron_expression="0 3 * * *",
                  timezone="UTC", url="http://127.0.0.1:9/x", http_method="GET", status=0)
    values.update(over)
    return Task.objects.create(**values)


@pytest.fixture
def fuzz_world(org):
    """Actors, throwaway objects in every department of the tree, a live node; Django's per-request
    connection cleanup is disconnected while the WSGI app runs inside the test transaction (as Django's
    own test client does)."""
    limited = org.member(org.a1, LIMITED_CODES, username="fuzz-limited")
    now = timezone.now()
    SchedulerNode.objects.create(name="fuzz-node", host="h", pid=1, started_at=now, heartbeat_at=now)
    leaf = DepartmentFactory(name="fuzz-leaf", parent=org.a)
    tasks = {name: _task(getattr(org, name), f"fuzz-{name}") for name in ("a", "a1", "b", "hq")}
    grpc_task = _task(org.a1, "fuzz-grpc", task_type="GRPC", url=None, grpc_service="127.0.0.1:9/demo.Echo",
                      grpc_method="Say")
    users = {name: UserFactory(username=f"fuzz-{name}", department=getattr(org, name),
                               role=RoleFactory(codes=["task:view"])) for name in ("a", "a1", "b")}
    spare_role = RoleFactory(name="fuzz-spare", codes=["task:view", "task:create"])
    departments = [org.hq.pk, org.a.pk, org.a1.pk, org.b.pk, leaf.pk]
    # alert policies with a loopback discard-port webhook: a test alert is refused at once, nothing leaves
    policies = [AlertPolicy.objects.create(department_id=t.department_id, task=t, scope_key=f"task:{t.pk}",
                                           webhook_url="http://127.0.0.1:9/hook") for t in tasks.values()]
    policies.append(AlertPolicy.objects.create(department=org.a, scope_key=f"department:{org.a.pk}",
                                               emails=["ops@example.com"], lag_seconds=60))
    alerts = [Alert.objects.create(department_id=t.department_id, task_id=t.pk, task_name=t.name, kind="failure",
                                   message="fuzz", dedup_key=f"fuzz:{t.pk}", status="sent") for t in tasks.values()]
    triggers = [TriggerRequest.objects.create(task=t, requested_at=now) for t in tasks.values()]
    # registry entries on a public IP literal (the egress check asks no DNS; nothing is ever called)
    executors = [Executor.objects.create(department=getattr(org, name), name=f"fuzz.{name}", kind="grpc",
                                         address="93.184.216.34:50051", source="manual") for name in ("a", "a1", "b")]
    common = {
        "trigger": [t.pk for t in triggers] + [MISSING_ID],
        "alert_policy": [p.pk for p in policies] + [MISSING_ID],
        "alert": [a.pk for a in alerts] + [MISSING_ID],
        "executor": [e.pk for e in executors] + [MISSING_ID],
        "task": [t.pk for t in tasks.values()] + [grpc_task.pk, MISSING_ID],
        "department": departments + [MISSING_ID],
        "role": [spare_role.pk, org.admin.role_id, limited.role_id, MISSING_ID],
        "record": [1, MISSING_ID],
    }
    actors = {}
    for name, user in (("admin", org.admin), ("limited", limited)):
        pools = dict(common, user=[user.pk] + [u.pk for u in users.values()] + [org.admin.pk, MISSING_ID])
        actors[name] = Actor(name, user, tokens.issue_pair(user).access, pools)
    baseline = snapshot()
    for actor in actors.values():
        actor.baseline = baseline
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield actors
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)
    assert snapshot() == baseline, "a fuzz case was not rolled back: later cases compared against a stale baseline"


def load_schema(coverage: str):
    """The schema the platform serves, loaded through its WSGI app (no database access needed), with the
    coverage phase in the given generation mode."""
    from djs_platform.wsgi import application

    config = schemathesis.Config.from_dict({
        "seed": SEED,
        "generation": {"mode": "all", "max-examples": EXAMPLES, "deterministic": True, "database": "none",
                       "with-security-parameters": False},
        "phases": {"examples": {"enabled": False},
                   "coverage": {"enabled": True, "generation": {"mode": coverage}},
                   "fuzzing": {"enabled": True}, "stateful": {"enabled": False}},
    })
    return schemathesis.openapi.from_wsgi("/v1/schema", application, config=config)


#: ``make test`` (bounded): the coverage phase with valid values (every boundary of every parameter and body
#: field) and the fuzzing phase (valid and invalid values). The deep run (``DJS_TEST_FUZZ_EXAMPLES`` above the
#: default) adds the coverage phase's invalid mutations and unexpected HTTP methods.
DEEP = EXAMPLES > DEFAULT_EXAMPLES
schema = load_schema("all" if DEEP else "positive")

HYPOTHESIS = settings(deadline=None, database=None, derandomize=True, max_examples=EXAMPLES,
                      suppress_health_check=list(HealthCheck), print_blob=False)


def run_case(actor: Actor, case) -> None:
    kind = _kind(case.path)
    if kind and "id" in case.path_parameters:
        case.path_parameters["id"] = steer_id(case.path_parameters["id"], actor.pools[kind])
    headers = {"Authorization": f"Bearer {actor.token}"}
    extra: dict[str, Any] = {}
    if case.path == "/v1/shutdown":
        extra["environ_base"] = {"REMOTE_ADDR": FOREIGN_PEER}
    started = time.perf_counter()
    try:
        with transaction.atomic():
            before = actor.baseline
            response = case.call(headers=headers, **extra)
            STATS[actor.name]["cases"][case.operation.label] += 1
            STATS[actor.name]["statuses"][response.status_code] += 1
            if 400 <= response.status_code < 500:
                STATS[actor.name]["snapshots"][case.operation.label] += 1
                after = snapshot()
                changed = {k: (before[k], after[k]) for k in before if before[k] != after[k]}
                assert not changed, (f"{case.method} {case.formatted_path} answered {response.status_code} "
                                     f"but changed {sorted(changed)}: {response.text[:300]}")
            if case.path == "/v1/shutdown" and case.method == "GET":  # refused before anything is scheduled
                assert response.status_code == 403, response.text
            case.validate_response(response, checks=CHECKS, headers=headers,
                                   transport_kwargs={"headers": headers, **extra})
            transaction.set_rollback(True)
    finally:
        cache.clear()
        STATS[actor.name]["seconds"][case.operation.label] += time.perf_counter() - started


STATS: dict[str, dict[str, Counter]] = {}


@pytest.fixture(scope="module", autouse=True)
def fuzz_report(request):
    """Print how many cases ran per actor and operation (quoted in docs/security.md)."""
    for name in ("admin", "limited"):
        STATS[name] = {"cases": Counter(), "statuses": Counter(), "seconds": Counter(), "snapshots": Counter()}
    yield
    lines = []
    for name, stats in STATS.items():
        total = sum(stats["cases"].values())
        lines.append(f"fuzz [{name}]: {total} cases over {len(stats['cases'])} operations "
                     f"(DJS_TEST_FUZZ_EXAMPLES={EXAMPLES}); statuses {dict(sorted(stats['statuses'].items()))}; "
                     f"{sum(stats['snapshots'].values())} 4xx answers compared with the snapshot")
        if os.environ.get("DJS_TEST_FUZZ_VERBOSE"):
            lines += [f"    {n:5d} {stats['seconds'][op]:7.2f}s {op}" for op, n in stats["cases"].most_common()]
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print("\n" + "\n".join(lines), flush=True)


pytestmark = pytest.mark.django_db


@schema.parametrize()
@HYPOTHESIS
def test_fuzz_api(case, fuzz_world):
    """Each generated request is sent as the admin, then (same input, ids steered to its own pools) as the
    limited user."""
    generated = dict(case.path_parameters)
    for actor in fuzz_world.values():
        case.path_parameters.clear()
        case.path_parameters.update(generated)
        run_case(actor, case)


def test_snapshot_sees_every_kind_of_change(org):
    """The "bad input changes nothing" comparison is only as good as the snapshot: it must notice an edit, an
    insert and a delete in each table it covers."""
    task = _task(org.a, "snap")
    stamped = Task.objects.get(pk=task.pk).update_time
    base = snapshot()
    Task.objects.filter(pk=task.pk).update(name="snap-2")
    assert snapshot()["task"] != base["task"]
    # Back as it was — update_time too: on MySQL/MariaDB the column moves with every change (ON UPDATE
    # CURRENT_TIMESTAMP, the seed's schema), unless the statement sets it.
    Task.objects.filter(pk=task.pk).update(name="snap", update_time=stamped)
    assert snapshot() == base
    Department.objects.filter(pk=org.b.pk).update(status=0)
    assert snapshot()["department"] != base["department"]
    Department.objects.filter(pk=org.b.pk).update(status=1)
    User.objects.filter(pk=org.admin.pk).update(real_name="changed")
    assert snapshot()["user"] != base["user"]
    User.objects.filter(pk=org.admin.pk).update(real_name=org.admin.real_name)
    RolePermission.objects.filter(role_id=org.admin.role_id).first().delete()
    assert snapshot()["role_permission"] != base["role_permission"]
    AuditLog.objects.create(action="task.update", object_type="task")
    assert snapshot()["audit_log"] == base["audit_log"] + 1
    AuditLog.objects.create(action="auth.login_failed", object_type="user")
    assert snapshot()["audit_log"] == base["audit_log"] + 1


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_unknown_route_answers_the_envelope_for_every_method(db, method):
    """Found by the fuzzer: an unknown /v1 path with an unsafe method got Django's HTML CSRF page (403)
    instead of the JSON 4004 every unknown route answers."""
    from conftest import Api

    for client in (Api(), Api(token="not-a-token")):
        reply = client.call(method, "/v1/users/null,null/password", {"newPassword": "x"})
        reply.expect(4004)
        assert reply.response["Content-Type"] == "application/json"
