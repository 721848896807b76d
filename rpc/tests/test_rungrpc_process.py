"""``manage.py rungrpc`` as a real process against a fresh database: serves, answers health and reflection,
and stops gracefully (exit code 0) on SIGTERM."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

from djs_platform.config import BASE_DIR
from rpc.generated import auth_pb2, auth_pb2_grpc, data_pb2, data_pb2_grpc
from tests.platform import ADMIN_PASSWORD, free_port, fresh_database, platform_env, prepare_database

pytestmark = [pytest.mark.processes, pytest.mark.single_backend]


def start_rungrpc(env: dict[str, str], log_path: Path, *args: str) -> subprocess.Popen:
    log = open(log_path, "ab")
    return subprocess.Popen([sys.executable, str(BASE_DIR / "manage.py"), "rungrpc", *args], env=env, cwd=BASE_DIR,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def wait_serving(channel: grpc.Channel, proc: subprocess.Popen, log_path: Path, timeout: float = 60) -> None:
    stub = health_pb2_grpc.HealthStub(channel)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"rungrpc exited early:\n{log_path.read_text()}")
        try:
            if stub.Check(health_pb2.HealthCheckRequest(), timeout=2).status == health_pb2.HealthCheckResponse.SERVING:
                return
        except grpc.RpcError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"rungrpc did not become healthy:\n{log_path.read_text()}")


def test_rungrpc_serves_and_stops_gracefully_on_sigterm(tmp_path):
    with fresh_database(tmp_path) as db_url:
        port, metrics_port = free_port(), free_port()
        env = platform_env(db_url, DJS_RPC_PORT=str(port), DJS_RPC_METRICS_PORT=str(metrics_port))
        prepare_database(env)
        log_path = tmp_path / "rungrpc.log"
        proc = start_rungrpc(env, log_path)
        try:
            with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
                wait_serving(channel, proc, log_path)
                services = set(ProtoReflectionDescriptorDatabase(channel).get_services())
                assert services == {"scheduler.TaskScheduler", "auth.AuthService", "data.DataService",
                                    "rpc.proto.ModelContextService", "djs.ExecutorRegistry", "grpc.health.v1.Health",
                                    "grpc.reflection.v1alpha.ServerReflection"}
                login = auth_pb2_grpc.AuthServiceStub(channel).Authenticate(
                    auth_pb2.AuthenticateRequest(username="admin", password=ADMIN_PASSWORD), timeout=30)
                assert login.success and login.user_info.username == "admin"
                departments = data_pb2_grpc.DataServiceStub(channel).GetDepartmentList(
                    data_pb2.DepartmentListRequest(), metadata=[("authorization", f"Bearer {login.access_token}")],
                    timeout=30)
                assert departments.total >= 1
            exposition = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).text
            assert 'djs_grpc_requests_total{code="OK",method="auth.AuthService/Authenticate"} 1.0' in exposition
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=30) == 0, log_path.read_text()
            output = log_path.read_text()
            assert f"DJS gRPC listening on 127.0.0.1:{port}" in output
            assert "gRPC stopping" in output and "DJS gRPC stopped" in output
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def test_rungrpc_refuses_a_port_in_use(tmp_path):
    with fresh_database(tmp_path) as db_url, socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        env = platform_env(db_url)
        proc = start_rungrpc(env, tmp_path / "rungrpc.log", "--port", str(port))
        try:
            assert proc.wait(timeout=60) != 0
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        assert f"gRPC cannot listen on 127.0.0.1:{port}" in (tmp_path / "rungrpc.log").read_text()
