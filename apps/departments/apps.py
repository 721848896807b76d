from django.apps import AppConfig


class DepartmentsConfig(AppConfig):
    name = "apps.departments"
    label = "departments"
    default_auto_field = "django.db.models.BigAutoField"
