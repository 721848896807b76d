from django.apps import AppConfig


class PlatformConfig(AppConfig):
    name = "djs_platform"
    label = "djs_platform"
    verbose_name = "DJS platform"

    def ready(self) -> None:
        from djs_platform import schema  # noqa: F401 - registers the OpenAPI auth extension
        from djs_platform.token_state import check_at_start

        check_at_start()  # refuses a Redis that may evict token revocations (maxmemory-policy)
