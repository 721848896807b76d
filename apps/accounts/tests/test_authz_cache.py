"""The per-process authorization cache (apps/accounts/authz.py, issue 21): a request after any change that can
alter who may do what sees the change, whatever changed it, and a request with nothing changed asks no user,
role, permission or department query.

Each test warms the cache with one request of the affected user, makes one change the way an operator (or a
service, or another process: the ORM with no local invalidation) makes it, and asserts the very next request.
"""
from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.accounts import authz
from apps.accounts.models import AuthzGeneration, Permission, Role
from conftest import Api
from tests.factories import DepartmentFactory, TaskFactory

VIEWER = {"task:view"}


def _info(api: Api) -> dict:
    return api.get("auth/userinfo").expect(0).data


def _visible_task_ids(api: Api) -> set[int]:
    return {row["id"] for row in api.get("tasks", size=100).expect(0).data["list"]}


def test_a_warm_request_asks_only_the_generation(org):
    user = org.member(org.a, VIEWER)
    api = Api(user)
    _info(api)
    with CaptureQueriesContext(connection) as warm:
        assert _info(api)["permissions"] == ["task:view"]
    statements = [query["sql"] for query in warm.captured_queries]
    assert any("authz_generation" in sql for sql in statements), statements
    authz_tables = re.compile(r"\bFROM [`\"]?(user|role|permission|role_permission|department)[`\"]?(\s|$)")
    assert not [sql for sql in statements if authz_tables.search(sql)], statements


def test_role_change_of_a_user_counts_from_the_next_request(org):
    user = org.member(org.a, VIEWER)
    api = Api(user)
    assert _info(api)["permissions"] == ["task:view"]
    user.role = Role.objects.get(name="admin")
    user.save()
    assert "user:manage" in _info(api)["permissions"]


def test_disabling_a_user_counts_from_the_next_request(org):
    user = org.member(org.a, VIEWER)
    api = Api(user)
    _info(api)
    user.status = 0
    user.save()
    assert api.get("auth/userinfo").expect(4010).message == "account disabled"


def test_moving_a_user_changes_their_scope_on_the_next_request(org):
    user = org.member(org.a, VIEWER)
    in_a, in_b = TaskFactory(department=org.a), TaskFactory(department=org.b)
    api = Api(user)
    assert _visible_task_ids(api) == {in_a.pk}
    user.department = org.b
    user.save()
    assert _visible_task_ids(api) == {in_b.pk}
    assert _info(api)["departmentId"] == org.b.pk


def test_role_permissions_changed_through_the_api_count_from_the_next_request(org, admin_api):
    user = org.member(org.a, VIEWER)
    api = Api(user)
    api.get("users").expect(4003)
    role = user.role
    ids = dict(Permission.objects.values_list("code", "id"))
    body = {"name": role.name, "status": 1, "permissions": [ids["task:view"], ids["user:manage"]]}
    admin_api.put(f"roles/{role.pk}", body).expect(0)
    api.get("users").expect(0)
    admin_api.put(f"roles/{role.pk}", {**body, "permissions": [ids["task:view"]]}).expect(0)
    api.get("users").expect(4003)


def test_role_permissions_changed_through_the_relation_count_from_the_next_request(org):
    user = org.member(org.a, VIEWER)
    api = Api(user)
    api.get("users").expect(4003)
    user.role.permissions.add(Permission.objects.get(code="user:manage"))
    api.get("users").expect(0)
    user.role.permissions.clear()
    api.get("tasks").expect(4003)


def test_disabling_a_role_counts_from_the_next_request(org):
    user = org.member(org.a, VIEWER)
    api = Api(user)
    api.get("tasks").expect(0)
    role = user.role
    role.status = 0
    role.save()
    api.get("tasks").expect(4003)
    assert _info(api)["permissions"] == []


def test_disabling_a_permission_counts_from_the_next_request(org):
    user = org.member(org.a, VIEWER)
    api = Api(user)
    api.get("tasks").expect(0)
    permission = Permission.objects.get(code="task:view")
    permission.status = 0
    permission.save()
    api.get("tasks").expect(4003)


def test_moving_a_department_changes_the_scope_above_it_on_the_next_request(org):
    user = org.member(org.b, VIEWER)
    below_a1 = TaskFactory(department=org.a1)
    in_b = TaskFactory(department=org.b)
    api = Api(user)
    assert _visible_task_ids(api) == {in_b.pk}
    org.a1.parent = org.b
    org.a1.save()
    assert _visible_task_ids(api) == {in_b.pk, below_a1.pk}
    org.a1.parent = org.a
    org.a1.save()
    assert _visible_task_ids(api) == {in_b.pk}


def test_a_new_department_below_joins_the_scope_and_a_deleted_one_leaves_it(org):
    user = org.member(org.a, VIEWER)
    api = Api(user)
    assert org.a1.pk in set(_scope(api))
    child = DepartmentFactory(name="A2", parent=org.a)
    assert child.pk in set(_scope(api))
    child.delete()
    assert child.pk not in set(_scope(api))


def _scope(api: Api) -> list[int]:
    return [row["id"] for row in _flatten(api.get("departments").expect(0).data)]


def _flatten(data) -> list[dict]:
    rows = data["list"] if isinstance(data, dict) and "list" in data else data
    out: list[dict] = []
    for row in rows:
        out.append(row)
        out.extend(_flatten(row.get("children") or []))
    return out


def test_disabling_an_ancestor_department_shuts_the_user_out_on_the_next_request(org):
    user = org.member(org.a1, VIEWER)
    api = Api(user)
    _info(api)
    org.a.status = 0
    org.a.save()
    assert api.get("auth/userinfo").expect(4010).message == "department disabled"
    org.a.status = 1
    org.a.save()
    _info(api)


def test_renaming_the_department_shows_on_the_next_request(org):
    user = org.member(org.a, VIEWER)
    api = Api(user)
    _info(api)
    org.a.name = "A renamed"
    org.a.save()
    assert _info(api)["departmentName"] == "A renamed"


def test_each_change_writes_a_new_generation_in_its_transaction(org):
    """The value is new on every change (random, not an increment: a rolled-back change's value never comes back
    for a later one)."""
    seen = {AuthzGeneration.objects.get(pk=authz.GENERATION_ID).value}
    for change in (lambda: org.a.save(), lambda: org.admin.save(), lambda: org.admin.role.save(),
                   lambda: Permission.objects.first().save()):
        change()
        value = AuthzGeneration.objects.get(pk=authz.GENERATION_ID).value
        assert value not in seen
        seen.add(value)


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_change_leaves_the_cache_consistent(org):
    """A change that rolls back leaves the generation as it was: the entry filled before still answers, and
    a later change still reloads."""
    from django.db import transaction

    user = org.member(org.a, VIEWER)
    api = Api(user)
    assert _info(api)["permissions"] == ["task:view"]
    with pytest.raises(RuntimeError), transaction.atomic():
        user.role = Role.objects.get(name="admin")
        user.save()
        raise RuntimeError("roll back")
    assert _info(api)["permissions"] == ["task:view"]
    user.refresh_from_db()
    user.role = Role.objects.get(name="admin")
    user.save()
    assert "user:manage" in _info(api)["permissions"]
