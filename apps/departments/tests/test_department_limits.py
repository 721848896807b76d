"""Issue 16, the department side: a re-parent that would strand child-task links (6b), the depth limit and a
tree that renders at any depth (12), and the set of disabled departments scheduler nodes skip (16)."""
from __future__ import annotations

import json
import sys
from dataclasses import replace

import pytest

from apps.accounts.models import AuditLog
from apps.alerts.services import department_defaults
from apps.departments import selectors
from apps.departments.models import Department
from apps.tasks.models import TaskChild
from conftest import Api
from tests.factories import TaskFactory

pytestmark = pytest.mark.django_db


def dept_body(dept, **over):
    return {"name": dept.name, "parentId": dept.parent_id, "status": dept.status, **over}


def dept_rows():
    return list(Department.objects.order_by("id").values())


# --- 6b ----------------------------------------------------------------------------------------------

def test_a_reparent_that_would_strand_child_links_is_4009_listing_them(org):
    parent = TaskFactory(department=org.a, name="export", status=0)
    child = TaskFactory(department=org.a1, name="upload", status=0)
    TaskChild.objects.create(parent=parent, child=child)
    before, audits = dept_rows(), AuditLog.objects.count()
    reply = Api(org.admin).put(f"departments/{org.a1.pk}", dept_body(org.a1, parentId=org.b.pk)).expect(4009)
    assert f"task {parent.pk} (export) -> task {child.pk} (upload)" in reply.message
    assert dept_rows() == before and AuditLog.objects.count() == audits
    # A's user therefore keeps no handle on B's tasks: the child is still in A's subtree
    assert Department.objects.get(pk=org.a1.pk).parent_id == org.a.pk


def test_a_reparent_that_keeps_every_link_inside_the_parents_subtree_is_fine(org):
    top = TaskFactory(department=org.hq, name="top", status=0)
    parent = TaskFactory(department=org.a, name="export", status=0)
    child = TaskFactory(department=org.a1, name="upload", status=0)
    TaskChild.objects.create(parent=parent, child=child)   # moves along with A
    TaskChild.objects.create(parent=top, child=child)      # HQ still holds A1 under B
    Api(org.admin).put(f"departments/{org.a.pk}", dept_body(org.a, parentId=org.b.pk)).expect(0)
    assert Department.objects.get(pk=org.a.pk).parent_id == org.b.pk


# --- 12 ----------------------------------------------------------------------------------------------

def chain(top, depth: int) -> list[Department]:
    """``depth`` departments below ``top``, each under the previous (written directly, as legacy rows)."""
    out, parent = [], top
    for i in range(depth):
        parent = Department.objects.create(name=f"d{i}", parent=parent)
        out.append(parent)
    return out


def test_departments_cannot_nest_deeper_than_the_configured_depth(org, settings):
    assert settings.DJS_DEPARTMENTS.max_depth == 20  # the documented default
    settings.DJS_DEPARTMENTS = replace(settings.DJS_DEPARTMENTS, max_depth=5)
    admin = Api(org.admin)
    deep = chain(org.a1, 2)  # HQ(1) > A(2) > A1(3) > d0(4) > d1(5)
    before = dept_rows()
    reply = admin.post("departments", {"name": "too-deep", "parentId": deep[-1].pk, "status": 1}).expect(4001)
    assert "departments.maxDepth" in reply.data["fields"]["parentId"][0]
    assert dept_rows() == before
    admin.post("departments", {"name": "fits", "parentId": deep[0].pk, "status": 1}).expect(0)
    # moving B (height 1) under d1 would make it level 6; moving A (height 4) under B makes d1 level 6
    before = dept_rows()
    admin.put(f"departments/{org.b.pk}", dept_body(org.b, parentId=deep[-1].pk)).expect(4001)
    admin.put(f"departments/{org.a.pk}", dept_body(org.a, parentId=org.b.pk)).expect(4001)
    assert dept_rows() == before
    admin.put(f"departments/{org.b.pk}", dept_body(org.b, parentId=deep[0].pk)).expect(0)


def depth_of(tree: list[dict], target: int) -> int | None:
    stack = [(node, 1) for node in tree]
    while stack:
        node, depth = stack.pop()
        if node["id"] == target:
            return depth
        stack += [(child, depth + 1) for child in node["children"]]
    return None


def deep_json(resp) -> dict:
    """Decode with room to recurse: Python's JSON *decoder* (the test client's) recurses, the server must not.
    The limit is raised only here, after the server has answered with the default one."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(20000)
    try:
        return json.loads(resp.content)
    finally:
        sys.setrecursionlimit(limit)


def test_a_600_deep_legacy_chain_renders_as_a_tree_for_everyone_above_it(org):
    deep = chain(org.a, 600)
    for user, depth in ((org.admin, 602), (org.member(org.a, {"task:view"}), 601), (org.member(deep[300], set()), 300)):
        resp = Api(user).client.get("/v1/departments?tree=1")
        body = deep_json(resp)
        assert (resp.status_code, body["code"]) == (200, 0), body
        assert depth_of(body["data"], deep[-1].pk) == depth


def test_default_policy_resolution_is_linear_in_the_number_of_departments():
    class Counting(dict):
        lookups = 0

        def get(self, *a):
            Counting.lookups += 1
            return super().get(*a)

        def __getitem__(self, k):
            Counting.lookups += 1
            return super().__getitem__(k)

    n = 5000
    parents = Counting({1: None, **{i: i - 1 for i in range(2, n + 1)}})
    resolved = department_defaults(parents, {1: "top", 2500: "middle"})
    assert resolved[n] == "middle" and resolved[2499] == "top" and resolved[1] == "top"
    assert Counting.lookups <= 4 * n


# --- 16: disabled departments -------------------------------------------------------------------------

def test_disabled_department_ids_hold_the_subtree_and_follow_changes(org):
    selectors.disabled_department_ids_clear()
    assert selectors.disabled_department_ids() == frozenset()
    Api(org.admin).put(f"departments/{org.a.pk}", dept_body(org.a, status=0)).expect(0)
    assert selectors.disabled_department_ids() == {org.a.pk, org.a1.pk}
    Department.objects.filter(pk=org.a.pk).update(status=1)   # changed by another process:
    Department.objects.filter(pk=org.b.pk).update(status=0)
    assert selectors.disabled_department_ids() == {org.a.pk, org.a1.pk}  # cached for a moment
    assert selectors.disabled_department_ids(max_age=0) == {org.b.pk}
