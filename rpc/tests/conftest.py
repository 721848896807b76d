"""A real DJS gRPC server on a free loopback port, real channels and the generated stubs.

The server runs in this process (its own handler threads) against the test database, so tests that call it
must commit their rows: every gRPC test is ``django_db(transaction=True)``. Month record tables are not
flushed between tests (they are unmanaged); :func:`make_record` deletes what it wrote at teardown.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any

import grpc
import pytest
from django.conf import settings as django_settings

from apps.records.models import RecordStatus, existing_record_tables, record_model
from apps.tasks.models import Task
from djs_platform import tokens
from rpc.generated import auth_pb2_grpc, data_pb2_grpc, mcp_pb2_grpc, scheduler_pb2_grpc
from rpc.server import RpcServer
from tests.factories import add_record

UTC = timezone.utc
CALL_TIMEOUT = 30


@pytest.fixture(scope="session")
def rpc_server() -> Iterator[RpcServer]:
    server = RpcServer(replace(django_settings.DJS_RPC, host="127.0.0.1", port=0, max_workers=8)).start()
    yield server
    server.stop(grace=1.0)


@pytest.fixture(scope="session")
def channel(rpc_server: RpcServer) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(rpc_server.target) as chan:
        grpc.channel_ready_future(chan).result(timeout=10)
        yield chan


class _Bound:
    """A stub whose calls carry the caller's metadata and a deadline."""

    def __init__(self, stub: Any, metadata: list[tuple[str, str]]):
        self._stub, self._metadata = stub, metadata

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self._stub, name)

        def call(request: Any) -> Any:
            return method(request, metadata=self._metadata, timeout=CALL_TIMEOUT)
        return call


class Rpc:
    """The four DJS services as one client; ``Rpc(channel, user)`` sends a fresh Bearer token of ``user``."""

    def __init__(self, chan: grpc.Channel, user=None, *, token: str | None = None,
                 metadata: list[tuple[str, str]] | None = None):
        if user is not None and token is None:
            token = tokens.issue_pair(user).access
        self.token = token
        md = list(metadata or [])
        if token is not None:
            md.append(("authorization", f"Bearer {token}"))
        self.scheduler = _Bound(scheduler_pb2_grpc.TaskSchedulerStub(chan), md)
        self.auth = _Bound(auth_pb2_grpc.AuthServiceStub(chan), md)
        self.data = _Bound(data_pb2_grpc.DataServiceStub(chan), md)
        self.mcp = _Bound(mcp_pb2_grpc.ModelContextServiceStub(chan), md)


@pytest.fixture
def rpc(channel) -> Callable[..., Rpc]:
    def make(user=None, **kw) -> Rpc:
        return Rpc(channel, user, **kw)
    return make


def fails(code: grpc.StatusCode, call: Callable[[], Any]) -> grpc.RpcError:
    """Run ``call``; it must fail with ``code``. Returns the error (``.details()``, ``.trailing_metadata()``)."""
    with pytest.raises(grpc.RpcError) as info:
        call()
    err = info.value
    assert err.code() == code, (err.code(), err.details())
    return err


def trailer(err: grpc.RpcError, key: str) -> str | None:
    return dict(err.trailing_metadata() or ()).get(key)


@pytest.fixture
def make_record() -> Iterator[Callable[..., Any]]:
    """Write a record into its month table (created when missing); every row is deleted at teardown."""
    written: list[tuple[type, int]] = []

    def make(task: Task | None = None, *, scheduled: datetime, status: int = RecordStatus.SUCCESS,
             cost: int | None = 100, department_id: int | None = None, trigger: str = "SCHEDULE",
             retry_times: int = 0, error: str | None = None, response: str | None = "ok"):
        row = add_record(task_id=task.pk if task else 0, task_name=task.name if task else "x",
                         department_id=department_id if department_id is not None else task.department_id,
                         task_type=task.task_type if task else "HTTP", trigger_type=trigger, scheduled_time=scheduled,
                         status=status, cost_time=cost, response=response, error=error, retry_times=retry_times)
        written.append((type(row), row.pk))
        return row

    yield make
    for model, pk in written:
        model.objects.filter(pk=pk).delete()


def delete_records_of(*task_ids: int) -> None:
    """Remove records a real scheduler node wrote for these tasks (month tables outlive test flushes)."""
    for name in existing_record_tables(refresh=True):
        record_model(int(name[7:11]), int(name[11:13])).objects.filter(task_id__in=task_ids).delete()
