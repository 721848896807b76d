"""The DJS services. Servicers are thin: they convert messages and call the services and selectors the
REST API calls, so permissions, tenant scope, validation and audit logging are the same."""
from __future__ import annotations

import grpc

from rpc.generated import (auth_pb2, auth_pb2_grpc, data_pb2, data_pb2_grpc, executors_pb2, executors_pb2_grpc,
                           mcp_pb2, mcp_pb2_grpc, scheduler_pb2, scheduler_pb2_grpc)
from rpc.servicers.auth import AuthServicer
from rpc.servicers.data import DataServicer
from rpc.servicers.executors import ExecutorRegistryServicer
from rpc.servicers.mcp import ModelContextServicer
from rpc.servicers.scheduler import TaskSchedulerServicer

#: Full names of the DJS services (what reflection lists besides health and reflection).
SERVICE_NAMES: tuple[str, ...] = (
    scheduler_pb2.DESCRIPTOR.services_by_name["TaskScheduler"].full_name,
    auth_pb2.DESCRIPTOR.services_by_name["AuthService"].full_name,
    data_pb2.DESCRIPTOR.services_by_name["DataService"].full_name,
    mcp_pb2.DESCRIPTOR.services_by_name["ModelContextService"].full_name,
    executors_pb2.DESCRIPTOR.services_by_name["ExecutorRegistry"].full_name,
)


def add_servicers(server: grpc.Server) -> None:
    scheduler_pb2_grpc.add_TaskSchedulerServicer_to_server(TaskSchedulerServicer(), server)
    auth_pb2_grpc.add_AuthServiceServicer_to_server(AuthServicer(), server)
    data_pb2_grpc.add_DataServiceServicer_to_server(DataServicer(), server)
    mcp_pb2_grpc.add_ModelContextServiceServicer_to_server(ModelContextServicer(), server)
    executors_pb2_grpc.add_ExecutorRegistryServicer_to_server(ExecutorRegistryServicer(), server)


__all__ = ["SERVICE_NAMES", "AuthServicer", "DataServicer", "ExecutorRegistryServicer", "ModelContextServicer",
           "TaskSchedulerServicer", "add_servicers"]
