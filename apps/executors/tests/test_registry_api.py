"""The executor registry over REST (issue 19): self-registration as a heartbeat, TTL, deregistration, operators'
entries within the department scope, ancestor names, permissions, bad input, egress and the rate limit."""
from __future__ import annotations

import socket
from dataclasses import replace
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.accounts.models import AuditLog
from apps.executors import registry
from apps.executors.models import Executor
from conftest import LOOPBACK_EGRESS, Api
from tests.isolation import TenantIsolationCase

PUBLIC = "93.184.216.34:50051"  # a public IP literal: the egress policy allows it without asking DNS
REGISTRAR = {"executor:register"}
OPERATOR = {"executor:view", "executor:manage"}


def register(api: Api, **body):
    return api.post("executors/register", {"name": "orders.Billing", "kind": "grpc", "address": PUBLIC, **body})


def live_addresses(name: str = "orders.Billing") -> set[str]:
    return {e.address for e in registry.load_entries() if e.name == name}


def snapshot():
    return list(Executor.objects.order_by("id").values()), AuditLog.objects.count()


# --- self-registration ---------------------------------------------------------------------------------

def test_registration_creates_a_live_self_entry_in_the_callers_department(org):
    sidecar = org.member(org.a, REGISTRAR)
    data = register(Api(sidecar)).expect(0).data
    assert (data["name"], data["kind"], data["address"], data["source"], data["status"]) == \
        ("orders.Billing", "grpc", PUBLIC, "self", "up")
    assert (data["departmentId"], data["ttlSeconds"], data["weight"], data["live"]) == (org.a.pk, 30, 1, True)
    assert data["instances"] == [PUBLIC] and data["lastHeartbeat"]
    assert live_addresses() == {PUBLIC}
    row = AuditLog.objects.get(action="executor.register")
    assert (row.object_id, row.department_id, row.user_id) == (str(data["id"]), org.a.pk, sidecar.pk)


def test_registering_again_is_the_heartbeat_and_changes_only_what_it_names(org):
    api = Api(org.member(org.a, REGISTRAR))
    first = register(api, weight=5).expect(0).data
    Executor.objects.filter(pk=first["id"]).update(last_heartbeat=timezone.now() - timedelta(seconds=20))
    audits = AuditLog.objects.count()
    again = register(api).expect(0).data  # weight left out: unchanged
    assert again["id"] == first["id"] and again["weight"] == 5
    assert Executor.objects.get(pk=first["id"]).last_heartbeat > timezone.now() - timedelta(seconds=5)
    assert AuditLog.objects.count() == audits  # a plain heartbeat leaves no audit row
    changed = register(api, ttlSeconds=120, weight=7).expect(0).data
    assert (changed["id"], changed["ttlSeconds"], changed["weight"]) == (first["id"], 120, 7)
    assert AuditLog.objects.filter(action="executor.register").count() == 2
    assert Executor.objects.count() == 1


def test_an_entry_that_missed_its_ttl_is_not_live_until_the_next_heartbeat(org):
    api = Api(org.member(org.a, REGISTRAR | {"executor:view"}))
    entry = register(api, ttlSeconds=10).expect(0).data
    Executor.objects.filter(pk=entry["id"]).update(last_heartbeat=timezone.now() - timedelta(seconds=11))
    assert live_addresses() == set()
    assert api.get(f"executors/{entry['id']}").expect(0).data["live"] is False
    register(api, ttlSeconds=10).expect(0)
    assert live_addresses() == {PUBLIC}
    # within the TTL it stays live
    Executor.objects.filter(pk=entry["id"]).update(last_heartbeat=timezone.now() - timedelta(seconds=8))
    assert live_addresses() == {PUBLIC}


def test_deregistration_removes_the_entry_and_is_idempotent(org):
    api = Api(org.member(org.a, REGISTRAR))
    register(api).expect(0)
    body = {"name": "orders.Billing", "kind": "grpc", "address": PUBLIC}
    assert api.post("executors/deregister", body).expect(0).data == {"removed": True}
    assert live_addresses() == set() and not Executor.objects.exists()
    assert api.post("executors/deregister", body).expect(0).data == {"removed": False}
    assert AuditLog.objects.filter(action="executor.deregister").count() == 1


def test_registration_cannot_take_over_or_remove_an_operators_entry(org):
    Api(org.member(org.a, OPERATOR)).post("executors", {"departmentId": org.a.pk, "name": "orders.Billing",
                                                        "kind": "grpc", "address": PUBLIC}).expect(0)
    before = snapshot()
    api = Api(org.member(org.a, REGISTRAR))
    assert "managed by operators" in register(api).expect(4009).message
    api.post("executors/deregister", {"name": "orders.Billing", "kind": "grpc", "address": PUBLIC}).expect(4009)
    assert snapshot() == before


def test_an_operator_drains_a_self_entry_and_heartbeats_do_not_undo_it(org):
    sidecar = Api(org.member(org.a, REGISTRAR))
    entry = register(sidecar).expect(0).data
    operator = Api(org.member(org.a, OPERATOR))
    assert operator.put(f"executors/{entry['id']}", {"status": "down"}).expect(0).data["live"] is False
    register(sidecar).expect(0)
    assert live_addresses() == set()
    # its name, kind and address are its target's
    before = snapshot()
    reply = operator.put(f"executors/{entry['id']}", {"address": "93.184.216.35:50051"}).expect(4001)
    assert "address" in reply.data["fields"] and snapshot() == before
    operator.put(f"executors/{entry['id']}", {"status": "up", "weight": 3}).expect(0)
    assert live_addresses() == {PUBLIC}


def test_registration_in_a_child_department_and_outside_the_scope(org):
    api = Api(org.member(org.a, REGISTRAR))
    assert register(api, departmentId=org.a1.pk).expect(0).data["departmentId"] == org.a1.pk
    before = snapshot()
    for foreign in (org.b.pk, org.hq.pk, 10**12):
        reply = register(api, departmentId=foreign).expect(4001)
        assert reply.data["fields"] == {"departmentId": [f"department {foreign} not found"]}
    assert snapshot() == before


# --- bad input and egress ------------------------------------------------------------------------------

@pytest.mark.parametrize("body, field", [
    ({"kind": "smtp"}, "kind"),
    ({"name": "orders.Billing:50051"}, "name"),
    ({"name": "10.0.0.5:50051/orders.Billing"}, "name"),
    ({"name": "grpc://orders.Billing"}, "name"),
    ({"name": ""}, "name"),
    ({"name": "x" * 129}, "name"),
    ({"ttlSeconds": 0}, "ttlSeconds"),
    ({"ttlSeconds": 301}, "ttlSeconds"),
    ({"ttlSeconds": "30"}, "ttlSeconds"),
    ({"weight": 0}, "weight"),
    ({"weight": 101}, "weight"),
    ({"address": "grpc://93.184.216.34:50051"}, "address"),
    ({"address": "93.184.216.34"}, "address"),
    ({"address": "93.184.216.34:0"}, "address"),
    ({"address": "93.184.216.34:50051/orders.Billing"}, "address"),
    ({"kind": "http", "address": "93.184.216.34:8080"}, "address"),
    ({"kind": "http", "address": "ftp://93.184.216.34/"}, "address"),
    ({"kind": "http", "address": "http://user:pw@93.184.216.34/"}, "address"),
    ({"kind": "http", "address": "http://93.184.216.34/base?q=1"}, "address"),
    ({"address": "dns:///93.184.216.34"}, "address"),
    ({"extra": 1}, "extra"),
])
def test_bad_registrations_are_4001_and_change_nothing(org, body, field):
    api = Api(org.member(org.a, REGISTRAR))
    before = snapshot()
    reply = register(api, **body).expect(4001)
    assert field in reply.data["fields"], reply.data
    assert snapshot() == before


def test_a_name_with_an_address_form_says_so(org):
    reply = register(Api(org.member(org.a, REGISTRAR)), name="10.0.0.5:50051").expect(4001)
    assert "not an address" in reply.data["fields"]["name"][0]


@pytest.mark.parametrize("address, reason", [
    ("169.254.169.254:80", "metadata"),
    ("127.0.0.1:50051", "loopback"),
    ("[::1]:50051", "loopback"),
    ("10.0.0.5:50051", "private"),
    ("dns:///localhost:50051", "loopback"),
])
def test_a_denied_address_is_refused_with_the_rule_and_changes_nothing(org, address, reason):
    api = Api(org.member(org.a, REGISTRAR))
    before = snapshot()
    reply = register(api, address=address).expect(4001)
    message = reply.data["fields"]["address"][0]
    assert "egress denied" in message and reason in message and "allowCidrs" in message, message
    assert snapshot() == before


def test_the_service_network_in_allow_cidrs_opens_registration(org, settings):
    settings.DJS_EGRESS = replace(settings.DJS_EGRESS, allow_cidrs=["10.0.0.0/24"])
    assert register(Api(org.member(org.a, REGISTRAR)), address="10.0.0.5:50051").expect(0).data["address"] == \
        "10.0.0.5:50051"


def test_the_metadata_address_stays_denied_for_http_and_dns_too(org, settings):
    settings.DJS_EGRESS = LOOPBACK_EGRESS
    api = Api(org.member(org.a, REGISTRAR))
    register(api, kind="http", address="http://169.254.169.254/latest").expect(4001)
    register(api, kind="http", address="http://metadata.google.internal/").expect(4001)
    assert not Executor.objects.exists()


def test_a_flood_of_registrations_from_one_user_is_4029(org, settings):
    settings.DJS_EXECUTORS = replace(settings.DJS_EXECUTORS, register_per_user_per_minute=3)
    api = Api(org.member(org.a, REGISTRAR))
    for port in (1001, 1002, 1003):
        register(api, address=f"93.184.216.34:{port}").expect(0)
    before = snapshot()
    reply = register(api, address="93.184.216.34:1004").expect(4029)
    assert "at most 3 a minute" in reply.message and reply.response["Retry-After"]
    assert snapshot() == before
    register(Api(org.member(org.a, REGISTRAR)), address="93.184.216.34:1004").expect(0)  # another user


# --- operators' entries ---------------------------------------------------------------------------------

class TestExecutorIsolation(TenantIsolationCase):
    list_path = "executors"
    detail_path = "executors/{id}"
    model = Executor

    def make(self, org, department):
        return Executor.objects.create(department=department, name=f"svc.{department.name}", kind="grpc",
                                       address=PUBLIC, source="manual")

    def create_body(self, org, department):
        return {"departmentId": department.pk, "name": "orders.New", "kind": "grpc", "address": PUBLIC}

    def update_body(self, org, obj):
        return {"weight": 9}


def test_operators_create_edit_and_delete_static_and_dns_entries(org, settings):
    settings.DJS_EGRESS = LOOPBACK_EGRESS
    api = Api(org.member(org.a, OPERATOR))
    static = api.post("executors", {"departmentId": org.a.pk, "name": "billing-http", "kind": "http",
                                    "address": "HTTPS://93.184.216.34:8443/api/", "weight": 4}).expect(0).data
    assert (static["address"], static["source"], static["weight"]) == ("https://93.184.216.34:8443/api", "manual", 4)
    dns = api.post("executors", {"departmentId": org.a.pk, "name": "orders.Billing", "kind": "grpc",
                                 "address": "dns:///localhost:50051"}).expect(0).data
    assert dns["source"] == "dns" and dns["ttlSeconds"] is None
    api.post("executors", {"departmentId": org.a.pk, "name": "orders.Billing", "kind": "grpc",
                           "address": "dns:///localhost:50051"}).expect(4009)
    listed = api.get("executors", kind="http").expect(0).data
    assert [row["id"] for row in listed["list"]] == [static["id"]] and listed["total"] == 1
    assert [row["id"] for row in api.get("executors", name="BILLING", size=1, page=2).expect(0).data["list"]] == \
        [dns["id"]]  # by name, then kind: billing-http, orders.Billing
    moved = api.put(f"executors/{static['id']}", {"address": "dns:///localhost:8080"}).expect(0).data
    assert (moved["source"], moved["address"]) == ("dns", "dns:///localhost:8080")
    api.put(f"executors/{static['id']}", {"departmentId": org.a1.pk}).expect(4001)
    api.delete(f"executors/{static['id']}").expect(0)
    api.get(f"executors/{static['id']}").expect(4004)
    actions = list(AuditLog.objects.filter(object_type="executor").order_by("id").values_list("action", flat=True))
    assert actions == ["executor.create", "executor.create", "executor.update", "executor.delete"]


def test_ancestor_names_are_visible_as_name_and_kind_only(org):
    for dept, name, kind in ((org.hq, "orders.Billing", "grpc"), (org.hq, "audit-http", "http"),
                             (org.a, "orders.Billing", "grpc"), (org.a, "reports.Export", "grpc"),
                             (org.b, "sibling.Secret", "grpc"), (org.a1, "child.Only", "grpc")):
        Executor.objects.create(department=dept, name=name, kind=kind, address=PUBLIC, source="manual")
    api = Api(org.member(org.a, {"executor:view"}))
    names = api.get("executors/names", departmentId=org.a.pk).expect(0).data
    assert names == [{"name": "orders.Billing", "kind": "grpc", "level": 0},
                     {"name": "reports.Export", "kind": "grpc", "level": 0},
                     {"name": "audit-http", "kind": "http", "level": 1}]
    child = api.get("executors/names", departmentId=org.a1.pk, kind="grpc").expect(0).data
    assert [(row["name"], row["level"]) for row in child] == [("child.Only", 0), ("orders.Billing", 1),
                                                             ("reports.Export", 1)]
    # the ancestor's entries themselves (addresses, instances) stay out of reach
    hq_entry = Executor.objects.get(department=org.hq, name="audit-http")
    api.get(f"executors/{hq_entry.pk}").expect(4004)
    assert hq_entry.pk not in {row["id"] for row in api.get("executors", size=100).expect(0).data["list"]}
    for foreign in (org.b.pk, org.hq.pk, 10**12):
        api.get("executors/names", departmentId=foreign).expect(4004)
    assert api.get("executors/names").expect(0).data == names  # default: the caller's department
    api.get("executors/names", kind="smtp").expect(4001)


@pytest.mark.parametrize("codes, call", [
    ({"executor:view", "executor:manage"}, lambda api, org: register(api)),
    ({"executor:register", "executor:view"}, lambda api, org: api.post(
        "executors", {"departmentId": org.a.pk, "name": "x", "kind": "grpc", "address": PUBLIC})),
    ({"executor:register", "executor:manage"}, lambda api, org: api.get("executors")),
    ({"executor:register", "executor:manage"}, lambda api, org: api.get("executors/names", departmentId=org.a.pk)),
    ({"executor:view"}, lambda api, org: api.post("executors/deregister", {"name": "x", "kind": "grpc",
                                                                          "address": PUBLIC})),
])
def test_each_route_needs_its_permission(org, codes, call):
    before = snapshot()
    reply = call(Api(org.member(org.a, codes)), org).expect(4003)
    assert "executor:" in reply.message
    assert snapshot() == before


def test_the_admin_role_holds_the_registry_permissions(org):
    codes = set(Api(org.admin).get("auth/userinfo").expect(0).data["permissions"])
    assert {"executor:view", "executor:manage", "executor:register"} <= codes


# --- the read side and DNS -----------------------------------------------------------------------------

def localhost_answers() -> set[str]:
    """What /etc/hosts (through getaddrinfo) says localhost is: 127.0.0.1, and ::1 where listed."""
    return {info[4][0] for info in socket.getaddrinfo("localhost", 50051, type=socket.SOCK_STREAM)}


def test_a_dns_entry_expands_to_every_answer_of_the_name(org, settings):
    settings.DJS_EGRESS = LOOPBACK_EGRESS
    api = Api(org.member(org.a, OPERATOR))
    grpc_entry = api.post("executors", {"departmentId": org.a.pk, "name": "orders.Billing", "kind": "grpc",
                                        "address": "dns:///localhost:50051", "weight": 3}).expect(0).data
    http_entry = api.post("executors", {"departmentId": org.a.pk, "name": "billing-http", "kind": "http",
                                        "address": "dns:///localhost:8080"}).expect(0).data
    answers = localhost_answers()
    assert "127.0.0.1" in answers
    bracket = {a: (f"[{a}]" if ":" in a else a) for a in answers}
    assert set(grpc_entry["instances"]) == {f"{bracket[a]}:50051" for a in answers}
    assert set(http_entry["instances"]) == {f"http://{bracket[a]}:8080" for a in answers}
    entries = {e.name: e for e in registry.load_entries()}
    instances = registry.expand(entries["orders.Billing"])
    assert {i.address for i in instances} == {f"{bracket[a]}:50051" for a in answers}
    assert {(i.executor_id, i.department_id, i.kind, i.weight, i.source) for i in instances} == \
        {(grpc_entry["id"], org.a.pk, "grpc", 3, "dns")}


def test_load_entries_leaves_out_drained_and_expired_entries(org):
    now = timezone.now()
    common = {"department": org.a, "kind": "grpc", "name": "orders.Billing"}
    Executor.objects.create(**common, address="93.184.216.34:1", source="manual")
    Executor.objects.create(**common, address="93.184.216.34:2", source="manual", status="down")
    Executor.objects.create(**common, address="93.184.216.34:3", source="self", ttl_seconds=30,
                            last_heartbeat=now - timedelta(seconds=5))
    Executor.objects.create(**common, address="93.184.216.34:4", source="self", ttl_seconds=30,
                            last_heartbeat=now - timedelta(seconds=31))
    Executor.objects.create(**common, address="93.184.216.34:5", source="self", ttl_seconds=30,
                            last_heartbeat=now, status="down")
    assert live_addresses() == {"93.184.216.34:1", "93.184.216.34:3"}
    assert [registry.expand(e)[0].address for e in registry.load_entries()] == ["93.184.216.34:1",
                                                                               "93.184.216.34:3"]


def test_metrics_count_instances_by_name_and_status(org, settings):
    from prometheus_client.parser import text_string_to_metric_families

    now = timezone.now()
    common = {"department": org.a, "kind": "grpc", "name": "orders.Billing"}
    Executor.objects.create(**common, address="93.184.216.34:1", source="manual")
    Executor.objects.create(**common, address="93.184.216.34:2", source="manual", status="down")
    Executor.objects.create(**common, address="93.184.216.34:3", source="self", ttl_seconds=30,
                            last_heartbeat=now - timedelta(seconds=60))
    Executor.objects.create(department=org.b, kind="grpc", name="orders.Billing", address="93.184.216.34:1",
                            source="self", ttl_seconds=30, last_heartbeat=now)
    body = Api(org.admin).client.get("/v1/metrics").content.decode()
    samples = {(s.labels["name"], s.labels["status"]): s.value
               for family in text_string_to_metric_families(body) if family.name == "djs_executor_instances"
               for s in family.samples}
    assert samples == {("orders.Billing", "up"): 2, ("orders.Billing", "down"): 1, ("orders.Billing", "expired"): 1}


def test_a_department_with_registry_entries_is_not_deleted(org):
    leaf = Api(org.admin).post("departments", {"name": "svc-leaf", "parentId": org.a.pk, "status": 1}).expect(0).data
    Executor.objects.create(department_id=leaf["id"], name="orders.Billing", kind="grpc", address=PUBLIC,
                            source="manual")
    reply = Api(org.admin).delete(f"departments/{leaf['id']}").expect(4009)
    assert "executor" in reply.message
    Executor.objects.filter(department_id=leaf["id"]).delete()
    Api(org.admin).delete(f"departments/{leaf['id']}").expect(0)
