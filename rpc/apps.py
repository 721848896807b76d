from django.apps import AppConfig


class RpcConfig(AppConfig):
    """gRPC services: protos, generated stubs, servicers, interceptors and ``manage.py rungrpc``."""

    name = "rpc"
    label = "rpc"
    verbose_name = "gRPC services"
