"""Departments: flat list with parentId, ?tree=1, keyword, CRUD rules, conflicts on delete."""
from __future__ import annotations

from apps.accounts.models import AuditLog
from apps.departments.models import Department
from conftest import Api
from tests.factories import DepartmentFactory
from tests.isolation import ACTOR_CODES


def test_list_is_flat_with_parent_ids(admin_api, org):
    rows = admin_api.get("departments").expect(0).data
    by_name = {row["name"]: row for row in rows}
    assert by_name["A1"]["parentId"] == org.a.pk
    assert by_name["A"]["parentId"] == org.hq.pk
    assert by_name[org.hq.name]["parentId"] is None
    assert "children" not in by_name["A"]


def test_tree_nests_children(admin_api, org):
    tree = admin_api.get("departments", tree=1).expect(0).data
    assert [node["name"] for node in tree] == [org.hq.name]
    level1 = {node["name"]: node for node in tree[0]["children"]}
    assert set(level1) == {"A", "B"}
    assert [n["name"] for n in level1["A"]["children"]] == ["A1"]


def test_tree_of_a_child_member_is_rooted_at_their_department(org):
    member = org.member(org.a, {"task:view"})
    tree = Api(member).get("departments", tree="true").expect(0).data
    assert [node["name"] for node in tree] == ["A"]
    assert [node["name"] for node in tree[0]["children"]] == ["A1"]


def test_keyword_filters_by_name(admin_api, org):
    names = [row["name"] for row in admin_api.get("departments", keyword="A1").expect(0).data]
    assert names == ["A1"]


def test_create_update_and_delete(admin_api, org):
    created = admin_api.post("departments", {"name": "Ops", "description": "operations",
                                             "parentId": org.a.pk, "status": 1}).expect(0).data
    assert created["parentId"] == org.a.pk and created["description"] == "operations"
    updated = admin_api.put(f"departments/{created['id']}", {"name": "Ops2", "parentId": org.b.pk,
                                                           "status": 0}).expect(0).data
    assert (updated["name"], updated["parentId"], updated["status"]) == ("Ops2", org.b.pk, 0)
    assert admin_api.get(f"departments/{created['id']}").expect(0).data["name"] == "Ops2"
    admin_api.delete(f"departments/{created['id']}").expect(0)
    assert not Department.objects.filter(pk=created["id"]).exists()
    actions = list(AuditLog.objects.filter(object_type="department", object_id=str(created["id"]))
                   .order_by("id").values_list("action", flat=True))
    assert actions == ["department.create", "department.update", "department.delete"]
    change = AuditLog.objects.get(action="department.update", object_id=str(created["id"])).changes
    assert change["parentId"] == {"old": org.a.pk, "new": org.b.pk}


def test_delete_with_children_or_users_is_a_conflict(admin_api, org):
    reply = admin_api.delete(f"departments/{org.a.pk}").expect(4009)
    assert "child departments" in reply.message
    org.member(org.a1)
    reply = admin_api.delete(f"departments/{org.a1.pk}").expect(4009)
    assert "users" in reply.message
    assert Department.objects.filter(pk__in=[org.a.pk, org.a1.pk]).count() == 2


def test_sibling_names_are_unique(admin_api, org):
    reply = admin_api.post("departments", {"name": "A1", "parentId": org.a.pk, "status": 1}).expect(4009)
    assert "already exists" in reply.message
    admin_api.post("departments", {"name": "A1", "parentId": org.b.pk, "status": 1}).expect(0)


def test_cannot_move_a_department_under_its_own_descendant(admin_api, org):
    reply = admin_api.put(f"departments/{org.a.pk}", {"name": "A", "parentId": org.a1.pk, "status": 1})
    assert "parentId" in reply.expect(4001).data["fields"]
    admin_api.put(f"departments/{org.a.pk}", {"name": "A", "parentId": org.a.pk, "status": 1}).expect(4001)
    assert Department.objects.get(pk=org.a.pk).parent_id == org.hq.pk


def test_top_level_department_needs_system_manage(org):
    manager = org.member(org.a, ACTOR_CODES)
    Api(manager).post("departments", {"name": "Rogue", "status": 1}).expect(4003)
    assert not Department.objects.filter(name="Rogue").exists()
    Api(org.admin).post("departments", {"name": "Second HQ", "status": 1}).expect(0)


def test_member_cannot_move_own_department_or_move_anything_out_of_scope(org):
    manager_a1 = org.member(org.a1, ACTOR_CODES)
    Api(manager_a1).put(f"departments/{org.a1.pk}", {"name": "A1", "parentId": org.a1.pk, "status": 1}).expect(4003)
    # Renaming in place (same parent) is fine.
    Api(manager_a1).put(f"departments/{org.a1.pk}", {"name": "A1 renamed", "parentId": org.a.pk,
                                                     "status": 1}).expect(0)
    manager_a = org.member(org.a, ACTOR_CODES)
    Api(manager_a).put(f"departments/{org.a.pk}", {"name": "A", "parentId": org.b.pk, "status": 1}).expect(4003)
    child = DepartmentFactory(name="A1-child", parent=org.a1)
    reply = Api(manager_a).put(f"departments/{child.pk}", {"name": "A1-child", "parentId": org.b.pk, "status": 1})
    assert reply.expect(4001).data["fields"] == {"parentId": [f"department {org.b.pk} not found"]}
    Api(manager_a).put(f"departments/{child.pk}", {"name": "A1-child", "parentId": org.a.pk, "status": 1}).expect(0)
    assert Department.objects.get(pk=org.a.pk).parent_id == org.hq.pk
    assert Department.objects.get(pk=child.pk).parent_id == org.a.pk


def test_department_writes_need_department_manage(org):
    viewer = org.member(org.a, {"task:view"})
    Api(viewer).get("departments").expect(0)
    Api(viewer).post("departments", {"name": "X", "parentId": org.a.pk, "status": 1}).expect(4003)
    Api(viewer).put(f"departments/{org.a1.pk}", {"name": "X", "parentId": org.a.pk, "status": 1}).expect(4003)
    Api(viewer).delete(f"departments/{org.a1.pk}").expect(4003)
    assert Department.objects.get(pk=org.a1.pk).name == "A1"


def test_unknown_parent_is_a_bad_parameter(admin_api, org):
    reply = admin_api.post("departments", {"name": "X", "parentId": 10**9, "status": 1}).expect(4001)
    assert reply.data["fields"] == {"parentId": ["department 1000000000 not found"]}
