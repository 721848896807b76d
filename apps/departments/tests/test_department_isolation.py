from apps.departments.models import Department
from tests.factories import DepartmentFactory
from tests.isolation import TenantIsolationCase


class TestDepartmentIsolation(TenantIsolationCase):
    list_path = "departments"
    detail_path = "departments/{id}"
    department_field = "parentId"
    model = Department

    def make(self, org, department):
        # A department "belongs" to the scope it sits in: for the check, a child of each department.
        return DepartmentFactory(parent=department)

    def create_body(self, org, department):
        return {"name": "new-dept", "parentId": department.pk, "status": 1}

    def update_body(self, org, obj):
        return {"name": "renamed", "parentId": obj.parent_id, "status": 1}

    def list_ids(self, reply):
        return {row["id"] for row in reply.data}
