from django.apps import AppConfig


class PlatformConfig(AppConfig):
    name = "djs_platform"
    label = "djs_platform"
    verbose_name = "DJS platform"

    def ready(self) -> None:
        import logging

        from djs_platform import schema  # noqa: F401 - registers the OpenAPI auth extension
        from djs_platform.config import config
        from djs_platform.token_state import check_at_start

        # Overlay keys and DJS_* variables that configure nothing (a typo must not silently do nothing), in
        # every process at start: web workers, gRPC, scheduler nodes and each manage.py command.
        for warning in config.warnings:
            logging.getLogger("djs.config").warning("configuration: %s", warning)
        check_at_start()  # refuses a Redis that may evict token revocations (maxmemory-policy)
