from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "apps.alerts"
    label = "alerts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Every scheduler node creates an alert watcher for itself (the scheduler never imports this app).
        from apps.alerts.services import move_task_policy
        from apps.alerts.watcher import AlertWatcher
        from apps.tasks import signals
        from apps.tasks.scheduler import listeners

        listeners.register("alerts", AlertWatcher)
        # A task's own alert policy belongs to the task: it moves with it to another department.
        signals.task_moved.connect(move_task_policy, dispatch_uid="alerts.move_task_policy")
