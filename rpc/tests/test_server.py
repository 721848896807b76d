"""The server itself: health, reflection (a generic client without generated stubs), the one error mapping
over the wire, graceful stop, configuration."""
from __future__ import annotations

import json
import threading
import time
from dataclasses import replace

import grpc
import pytest
from django.conf import settings as django_settings
from django.db import DatabaseError
from google.protobuf import descriptor_pool, json_format, message_factory
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase
from rest_framework import serializers

from apps.accounts import services as account_services
from apps.departments import services as department_services
from djs_platform import errors, tokens
from djs_platform.actor import Actor
from djs_platform.conf import RpcSettings
from djs_platform.config import load_config
from rpc.errors import to_status
from rpc.server import rpc_settings, RpcServer, server_options
from rpc.servicers import SERVICE_NAMES
from rpc.tests.conftest import fails, trailer

DJS_SERVICES = {"scheduler.TaskScheduler", "auth.AuthService", "data.DataService", "rpc.proto.ModelContextService",
                "djs.ExecutorRegistry"}


# --- health and reflection --------------------------------------------------------------------------

def test_health_reports_serving_overall_and_per_service(channel):
    stub = health_pb2_grpc.HealthStub(channel)
    for service in ("", *DJS_SERVICES):
        reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING, service
    fails(grpc.StatusCode.NOT_FOUND, lambda: stub.Check(health_pb2.HealthCheckRequest(service="no.Such"), timeout=5))


def test_health_watch_streams_through_the_interceptors(channel):
    stream = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest(service=""), timeout=5)
    first = next(iter(stream))
    stream.cancel()
    assert first.status == health_pb2.HealthCheckResponse.SERVING


def _reflected_pool(channel) -> tuple[ProtoReflectionDescriptorDatabase, descriptor_pool.DescriptorPool]:
    database = ProtoReflectionDescriptorDatabase(channel)
    return database, descriptor_pool.DescriptorPool(database)


def _generic_call(channel, pool, method_path: str, body: dict, metadata=()) -> dict:
    """Call any unary method knowing only its name: types come from the server's reflection."""
    service_name, method_name = method_path.rsplit("/", 1)
    method = pool.FindServiceByName(service_name).FindMethodByName(method_name)
    request_cls = message_factory.GetMessageClass(method.input_type)
    response_cls = message_factory.GetMessageClass(method.output_type)
    call = channel.unary_unary(f"/{service_name}/{method_name}", request_serializer=request_cls.SerializeToString,
                               response_deserializer=response_cls.FromString)
    reply = call(json_format.ParseDict(body, request_cls()), metadata=list(metadata), timeout=10)
    return json_format.MessageToDict(reply, preserving_proto_field_name=True)


def test_reflection_lists_the_djs_services_health_and_reflection(channel):
    database, pool = _reflected_pool(channel)
    assert set(database.get_services()) == DJS_SERVICES | {"grpc.health.v1.Health",
                                                           "grpc.reflection.v1alpha.ServerReflection"}
    scheduler = pool.FindServiceByName("scheduler.TaskScheduler")
    assert {m.name for m in scheduler.methods} >= {"ScheduleTask", "KillTask", "BatchScheduleTasks"}
    assert pool.FindServiceByName("rpc.proto.ModelContextService").methods[0].name == "GetModelContext"
    assert scheduler.file.name == "scheduler.proto"
    assert set(SERVICE_NAMES) == DJS_SERVICES


@pytest.mark.django_db(transaction=True)
def test_a_generic_reflection_client_logs_in_and_calls_a_service(channel, org):
    org.admin.set_password("Generic-Client-Pw1")
    org.admin.save()
    _, pool = _reflected_pool(channel)
    login = _generic_call(channel, pool, "auth.AuthService/Authenticate",
                          {"username": "root-admin", "password": "Generic-Client-Pw1"})
    assert login["success"] is True and login["user_info"]["username"] == "root-admin"
    reply = _generic_call(channel, pool, "data.DataService/GetDepartmentList", {"size": 100},
                          metadata=[("authorization", f"Bearer {login['access_token']}")])
    assert {d["name"] for d in reply["departments"]} >= {"A", "A1", "B"}
    assert int(reply["total"]) == len(reply["departments"])


# --- the one error mapping, over the wire -----------------------------------------------------------

ERRORS = {
    "invalid": (errors.InvalidArgument("cron: bad", fields={"cron": ["bad"]}), grpc.StatusCode.INVALID_ARGUMENT,
                "4001"),
    "unauthenticated": (errors.Unauthenticated("token expired"), grpc.StatusCode.UNAUTHENTICATED, "4010"),
    "forbidden": (errors.Forbidden("permission denied: requires task:view"), grpc.StatusCode.PERMISSION_DENIED,
                  "4003"),
    "not_found": (errors.NotFound("task not found"), grpc.StatusCode.NOT_FOUND, "4004"),
    "conflict": (errors.Conflict("no live scheduler node"), grpc.StatusCode.FAILED_PRECONDITION, "4009"),
    "already_exists": (errors.AlreadyExists("username 'x' already exists"), grpc.StatusCode.ALREADY_EXISTS, "4009"),
    "throttled": (errors.TooManyRequests("slow down", retry_after=60), grpc.StatusCode.RESOURCE_EXHAUSTED, "4029"),
    "unavailable": (errors.ServiceUnavailable("token revocation store unavailable"), grpc.StatusCode.UNAVAILABLE,
                    "5000"),
    "internal": (errors.InternalError(), grpc.StatusCode.INTERNAL, "5000"),
    "database": (DatabaseError("connection refused"), grpc.StatusCode.UNAVAILABLE, "5000"),
    "drf": (serializers.ValidationError({"name": ["required"]}), grpc.StatusCode.INVALID_ARGUMENT, "4001"),
    "bug": (RuntimeError("secret internals /etc/passwd"), grpc.StatusCode.INTERNAL, "5000"),
}


def _raise(request: bytes, context):
    if request == b"sleep":
        time.sleep(1.5)
        return b"slept"
    raise ERRORS[request.decode()][0]


@pytest.fixture(scope="module")
def errors_server():
    handler = grpc.method_handlers_generic_handler("djs.test.Errors", {
        "Raise": grpc.unary_unary_rpc_method_handler(_raise)})
    server = RpcServer(replace(django_settings.DJS_RPC, host="127.0.0.1", port=0, max_workers=4),
                       extra_handlers=[handler]).start()
    yield server
    server.stop(grace=0.5)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("name", list(ERRORS))
def test_every_error_maps_to_its_status_code(errors_server, org, name):
    exc, code, djs_code = ERRORS[name]
    with grpc.insecure_channel(errors_server.target) as chan:
        call = chan.unary_unary("/djs.test.Errors/Raise")
        err = fails(code, lambda: call(name.encode(), timeout=10,
                                       metadata=[("authorization", f"Bearer {tokens.issue_pair(org.admin).access}")]))
    assert trailer(err, "djs-code") == djs_code
    if name == "bug":
        assert err.details() == "internal error"  # nothing internal leaks
    elif name == "database":
        assert err.details() == "database unavailable, please retry"
    elif name == "drf":
        assert err.details() == "name: required"
    else:
        assert err.details() == exc.message
    if name == "invalid":
        assert json.loads(trailer(err, "djs-fields")) == {"cron": ["bad"]}
    if name == "throttled":
        assert trailer(err, "retry-after") == "60"


# Database access allowed: the module's server threads may still hold a connection from the tests above, which the
# database interceptor checks (close_old_connections) before the auth interceptor refuses the call.
@pytest.mark.django_db(transaction=True)
def test_interceptors_guard_every_method_not_only_the_djs_services(errors_server):
    with grpc.insecure_channel(errors_server.target) as chan:
        err = fails(grpc.StatusCode.UNAUTHENTICATED,
                    lambda: chan.unary_unary("/djs.test.Errors/Raise")(b"bug", timeout=10))
    assert "authorization" in err.details()


def test_to_status_is_the_single_mapping():
    assert to_status(errors.AlreadyExists()).code == grpc.StatusCode.ALREADY_EXISTS
    assert to_status(errors.Conflict()).code == grpc.StatusCode.FAILED_PRECONDITION
    assert to_status(errors.MethodNotAllowed()).code == grpc.StatusCode.UNIMPLEMENTED
    assert issubclass(errors.AlreadyExists, errors.Conflict)
    assert (errors.AlreadyExists.code, errors.AlreadyExists.http_status) == (4009, 409)


@pytest.mark.django_db
def test_duplicate_names_raise_already_exists_in_the_services(org):
    actor = Actor(user=org.admin)
    with pytest.raises(errors.AlreadyExists):
        account_services.user_create(actor=actor, username="root-admin", password="Another-Passw0rd!",
                                     real_name="x", email=None, phone=None, department_id=org.a.pk,
                                     role_id=org.admin.role_id, status=1)
    with pytest.raises(errors.AlreadyExists):
        account_services.role_create(actor=actor, name="admin", description=None, permission_ids=[], status=1)
    with pytest.raises(errors.AlreadyExists):
        department_services.department_create(actor=actor, name="A1", description=None, parent_id=org.a.pk,
                                              status=1)
    with pytest.raises(errors.Conflict) as other:  # other conflicts stay plain conflicts
        department_services.department_delete(actor=actor, department_id=org.a.pk)
    assert not isinstance(other.value, errors.AlreadyExists)


@pytest.mark.django_db(transaction=True)
def test_stop_lets_a_running_call_finish_and_refuses_new_ones(org):
    handler = grpc.method_handlers_generic_handler("djs.test.Errors", {
        "Raise": grpc.unary_unary_rpc_method_handler(_raise)})
    server = RpcServer(replace(django_settings.DJS_RPC, host="127.0.0.1", port=0, max_workers=2),
                       extra_handlers=[handler]).start()
    metadata = [("authorization", f"Bearer {tokens.issue_pair(org.admin).access}")]
    with grpc.insecure_channel(server.target) as chan:
        call = chan.unary_unary("/djs.test.Errors/Raise")
        future = call.future(b"sleep", timeout=20, metadata=metadata)
        time.sleep(0.3)  # the call is running
        stopper = threading.Thread(target=server.stop, kwargs={"grace": 10})
        stopper.start()
        assert future.result() == b"slept"
        stopper.join(15)
        assert not stopper.is_alive()
        fails(grpc.StatusCode.UNAVAILABLE, lambda: call(b"sleep", timeout=2, metadata=metadata))


# --- configuration ------------------------------------------------------------------------------

def test_rpc_keys_come_from_config_and_environment():
    config = load_config(environ={"DJS_RPC_PORT": "9191", "DJS_RPC_MAX_WORKERS": "4", "DJS_RPC_HOST": "0.0.0.0"})
    rpc = RpcSettings.from_config(config)
    assert (rpc.port, rpc.max_workers, rpc.host) == (9191, 4, "0.0.0.0")
    defaults = RpcSettings.from_config(load_config(environ={}))
    assert (defaults.port, defaults.host, defaults.max_workers) == (9090, "127.0.0.1", 16)
    assert (defaults.max_concurrent_streams, defaults.keepalive_time) == (100, 30)
    assert defaults.keepalive_timeout == 10


def test_server_config_from_settings_and_overrides(settings):
    settings.DJS_RPC = replace(settings.DJS_RPC, port=9555, max_workers=3, max_concurrent_streams=7,
                               keepalive_time=20, keepalive_timeout=5)
    config = rpc_settings(port=None, host="::")
    assert (config.port, config.max_workers, config.host, config.address) == (9555, 3, "::", "[::]:9555")
    options = dict(server_options(config))
    assert options["grpc.max_concurrent_streams"] == 7
    assert (options["grpc.keepalive_time_ms"], options["grpc.keepalive_timeout_ms"]) == (20000, 5000)
    assert options["grpc.so_reuseport"] == 0


def test_a_port_in_use_fails_loudly(rpc_server):
    with pytest.raises(RuntimeError, match="cannot listen"):
        RpcServer(replace(django_settings.DJS_RPC, host="127.0.0.1", port=rpc_server.port)).start()


@pytest.mark.django_db(transaction=True)
def test_calls_are_counted_by_method_and_code(rpc, org):
    from prometheus_client import REGISTRY

    from rpc.generated import scheduler_pb2

    def count(code: str) -> float:
        return REGISTRY.get_sample_value("djs_grpc_requests_total", {
            "method": "scheduler.TaskScheduler/GetTaskStatus", "code": code}) or 0.0

    def observed() -> float:
        return REGISTRY.get_sample_value("djs_grpc_request_duration_seconds_count", {
            "method": "scheduler.TaskScheduler/GetTaskStatus"}) or 0.0

    before = {code: count(code) for code in ("NOT_FOUND", "UNAUTHENTICATED")}
    seen = observed()
    fails(grpc.StatusCode.NOT_FOUND, lambda: rpc(org.admin).scheduler.GetTaskStatus(
        scheduler_pb2.TaskRequest(task_id=10**12)))
    fails(grpc.StatusCode.UNAUTHENTICATED, lambda: rpc().scheduler.GetTaskStatus(scheduler_pb2.TaskRequest(task_id=1)))
    assert count("NOT_FOUND") == before["NOT_FOUND"] + 1
    assert count("UNAUTHENTICATED") == before["UNAUTHENTICATED"] + 1
    assert observed() == seen + 2


def test_runplatform_starts_rungrpc():
    from djs_platform.management.commands.runplatform import Command

    assert Command().components()["grpc"][-1] == "rungrpc"
