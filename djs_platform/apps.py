from django.apps import AppConfig


class PlatformConfig(AppConfig):
    name = "djs_platform"
    label = "djs_platform"
    verbose_name = "DJS platform"

    def ready(self) -> None:
        from djs_platform import schema  # noqa: F401 - registers the OpenAPI auth extension
