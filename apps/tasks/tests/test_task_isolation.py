from apps.tasks.models import Task
from tests.factories import TaskFactory
from tests.isolation import TenantIsolationCase


class TestTaskIsolation(TenantIsolationCase):
    list_path = "tasks"
    detail_path = "tasks/{id}"
    update_path = "tasks/http/{id}"
    create_path = "tasks/http"
    model = Task

    def make(self, org, department):
        # a URL other than the update bodies', so a leaked update shows in the row
        return TaskFactory(department=department, status=0, url="http://127.0.0.1:9/x")

    def create_body(self, org, department):
        return {"name": "n", "departmentId": department.pk, "cron": "0 * * * *", "url": "http://127.0.0.1:9/",
                "httpMethod": "GET", "status": 0}

    def update_body(self, org, obj):
        return {"name": "n2", "departmentId": obj.department_id, "cron": "0 * * * *", "url": "http://127.0.0.1:9/",
                "httpMethod": "GET", "status": 0}


class TestTaskStatusIsolation(TestTaskIsolation):
    update_method = "PATCH"
    update_path = "tasks/{id}/status"

    def update_body(self, org, obj):
        return {"status": 1}
