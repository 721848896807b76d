from apps.accounts.models import Role, User
from tests.factories import RoleFactory, UserFactory
from tests.isolation import TenantIsolationCase


class TestUserIsolation(TenantIsolationCase):
    list_path = "users"
    detail_path = "users/{id}"
    model = User

    def make(self, org, department):
        return UserFactory(department=department, role=RoleFactory(codes=["task:view"]))

    def _role(self) -> Role:
        return Role.objects.filter(name="viewer").first() or RoleFactory(name="viewer", codes=["task:view"])

    def create_body(self, org, department):
        return {"username": "newbie", "password": "Sturdy-Pass-2026", "realName": "New Bie",
                "departmentId": department.pk, "roleId": self._role().pk, "status": 1}

    def update_body(self, org, obj):
        return {"username": obj.username, "realName": "Changed", "departmentId": obj.department_id,
                "roleId": obj.role_id, "status": 1}
