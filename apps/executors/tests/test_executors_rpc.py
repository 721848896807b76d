"""djs.ExecutorRegistry over gRPC (Register, Deregister, List) against the real server the rpc tests use: the same
permissions, department scope, input rules and egress policy as REST."""
from __future__ import annotations

import grpc
import pytest

from apps.executors import registry
from apps.executors.models import Executor
from djs_platform import tokens
from rpc.generated import executors_pb2 as pb
from rpc.generated import executors_pb2_grpc
from rpc.tests.conftest import CALL_TIMEOUT, channel, fails, rpc_server, trailer  # noqa: F401 - the real gRPC server fixtures

pytestmark = pytest.mark.django_db(transaction=True)

PUBLIC = "93.184.216.34:50051"


class Registry:
    def __init__(self, chan, user):
        self.stub = executors_pb2_grpc.ExecutorRegistryStub(chan)
        self.metadata = [("authorization", f"Bearer {tokens.issue_pair(user).access}")]

    def __getattr__(self, name):
        method = getattr(self.stub, name)
        return lambda request: method(request, metadata=self.metadata, timeout=CALL_TIMEOUT)


def test_register_list_and_deregister(channel, org):
    sidecar = Registry(channel, org.member(org.a, {"executor:register", "executor:view"}))
    entry = sidecar.Register(pb.RegisterRequest(name="orders.Billing", kind="grpc", address=PUBLIC, ttl_seconds=15))
    assert (entry.name, entry.kind, entry.address, entry.source, entry.status, entry.ttl_seconds, entry.weight,
            entry.department_id, entry.live) == ("orders.Billing", "grpc", PUBLIC, "self", "up", 15, 1, org.a.pk, True)
    assert list(entry.instances) == [PUBLIC] and entry.last_heartbeat.endswith("Z")
    again = sidecar.Register(pb.RegisterRequest(name="orders.Billing", kind="grpc", address=PUBLIC, weight=4))
    assert (again.id, again.weight, again.ttl_seconds) == (entry.id, 4, 30)
    assert {e.address for e in registry.load_entries()} == {PUBLIC}

    listed = sidecar.List(pb.ListRequest(name="billing"))
    assert [e.id for e in listed.executors] == [entry.id] and listed.total == 1

    gone = sidecar.Deregister(pb.DeregisterRequest(name="orders.Billing", kind="grpc", address=PUBLIC))
    assert gone.removed is True and not Executor.objects.exists()
    assert sidecar.Deregister(pb.DeregisterRequest(name="orders.Billing", kind="grpc", address=PUBLIC)).removed is False


def test_scope_permissions_and_bad_input_answer_as_in_rest(channel, org):
    sidecar = Registry(channel, org.member(org.a, {"executor:register"}))
    err = fails(grpc.StatusCode.INVALID_ARGUMENT, lambda: sidecar.Register(pb.RegisterRequest(
        name="orders.Billing", kind="grpc", address=PUBLIC, department_id=org.b.pk)))
    assert f"department {org.b.pk} not found" in err.details() and trailer(err, "djs-code") == "4001"
    for request, field in ((pb.RegisterRequest(name="a:b", kind="grpc", address=PUBLIC), "name"),
                           (pb.RegisterRequest(name="a", kind="smtp", address=PUBLIC), "kind"),
                           (pb.RegisterRequest(name="a", kind="grpc", address=PUBLIC, ttl_seconds=0), "ttl_seconds"),
                           (pb.RegisterRequest(name="a", kind="grpc", address=PUBLIC, ttl_seconds=301), "ttl_seconds"),
                           (pb.RegisterRequest(name="a", kind="grpc", address=PUBLIC, weight=101), "weight"),
                           (pb.RegisterRequest(name="a", kind="grpc", address="169.254.169.254:80"), "address")):
        err = fails(grpc.StatusCode.INVALID_ARGUMENT, lambda request=request: sidecar.Register(request))
        assert field in trailer(err, "djs-fields"), (field, err.details())
    fails(grpc.StatusCode.PERMISSION_DENIED, lambda: sidecar.List(pb.ListRequest()))
    viewer = Registry(channel, org.member(org.a, {"executor:view"}))
    fails(grpc.StatusCode.PERMISSION_DENIED, lambda: viewer.Register(pb.RegisterRequest(
        name="orders.Billing", kind="grpc", address=PUBLIC)))
    Executor.objects.create(department=org.b, name="sibling.Svc", kind="grpc", address=PUBLIC, source="manual")
    assert viewer.List(pb.ListRequest()).total == 0
    fails(grpc.StatusCode.NOT_FOUND, lambda: viewer.List(pb.ListRequest(department_id=org.b.pk)))
    assert not Executor.objects.exclude(department=org.b).exists()
