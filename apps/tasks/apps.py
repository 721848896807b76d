from django.apps import AppConfig


class TasksConfig(AppConfig):
    name = "apps.tasks"
    label = "tasks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from apps.departments.services import register_move_check
        from apps.tasks.bootstrap import apply_declared_jobs
        from apps.tasks.department_moves import check_department_move
        from djs_platform.bootstrap import register_step

        # `manage.py bootstrap`: scheduler.jobs from the configuration, as the admin the accounts step seeded.
        register_step("tasks.declared-jobs", apply_declared_jobs, order=20)
        # Moving a department moves its tasks: refuse a move that would put a child task outside its parent's scope.
        register_move_check("tasks.child-links", check_department_move)
