from django.apps import AppConfig


class ExecutorsConfig(AppConfig):
    name = "apps.executors"
    label = "executors"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # /v1/metrics reports djs_executor_instances{name,status}, computed when scraped (one query).
        from apps.executors.metrics import InstancesCollector
        from djs_platform import metrics

        metrics.register_scrape_collector(InstancesCollector())
