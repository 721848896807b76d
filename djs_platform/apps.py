from django.apps import AppConfig


class PlatformConfig(AppConfig):
    name = "djs_platform"
    label = "djs_platform"
    verbose_name = "DJS platform"
