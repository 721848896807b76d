from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "apps.alerts"
    label = "alerts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Every scheduler node creates an alert watcher for itself (the scheduler never imports this app).
        from apps.alerts.services import move_task_policy, prune_alerts_before
        from apps.records.services import register_prune_step
        from apps.alerts.watcher import AlertWatcher
        from apps.tasks import signals
        from apps.tasks.scheduler import listeners

        listeners.register("alerts", AlertWatcher)
        # A task's own alert policy belongs to the task: it moves with it to another department.
        signals.task_moved.connect(move_task_policy, dispatch_uid="alerts.move_task_policy")
        # Alerts follow their records: record retention deletes those created before the oldest kept month.
        register_prune_step("alerts", prune_alerts_before)
