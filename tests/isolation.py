"""The reusable tenant-isolation check (STYLE.md #12), run for every tenant-owned resource.

Org: HQ > A > A1 and HQ > B. The actor sits in A with every permission but system:manage. A subclass
says how to make an object in a department, where its routes are and what a valid create/update body
looks like; the check then asserts what the actor observes:

* the list shows A's and A1's rows, never B's or HQ's;
* detail, update and delete of B's (sibling) and HQ's (parent) rows answer 4004, exactly like a missing
  id, and change nothing;
* create cannot target B: 4001 on the department field, and nothing is created;
* a parent department's member sees its child department's rows (A sees A1).
"""
from __future__ import annotations

from typing import Any

import pytest
from django.db import models

from conftest import Api, Org
from apps.accounts.permissions import PERMISSION_CODES

ACTOR_CODES = PERMISSION_CODES - {"system:manage"}


class TenantIsolationCase:
    list_path: str
    detail_path: str  # with "{id}"
    update_method: str = "PUT"
    update_path: str | None = None  # defaults to detail_path
    create_path: str | None = None  # defaults to list_path
    department_field: str = "departmentId"
    model: type[models.Model]

    def make(self, org: Org, department) -> models.Model:
        raise NotImplementedError

    def create_body(self, org: Org, department) -> dict[str, Any]:
        raise NotImplementedError

    def update_body(self, org: Org, obj) -> dict[str, Any]:
        raise NotImplementedError

    def list_ids(self, reply) -> set[int]:
        rows = reply.data["list"] if isinstance(reply.data, dict) else reply.data
        return {row["id"] for row in rows}

    # --- fixtures ----------------------------------------------------------------------------

    @pytest.fixture
    def actor(self, org: Org):
        return org.member(org.a, ACTOR_CODES)

    @pytest.fixture
    def objects(self, org: Org) -> dict[str, models.Model]:
        return {name: self.make(org, getattr(org, name)) for name in ("a", "a1", "b", "hq")}

    # --- the checks --------------------------------------------------------------------------

    def test_list_shows_only_rows_of_own_department_and_children(self, org, actor, objects):
        ids = self.list_ids(Api(actor).get(self.list_path, size=100).expect(0))
        assert objects["a"].pk in ids and objects["a1"].pk in ids
        assert objects["b"].pk not in ids and objects["hq"].pk not in ids

    @pytest.mark.parametrize("foreign", ["b", "hq"])
    def test_detail_of_foreign_row_is_not_found(self, org, actor, objects, foreign):
        reply = Api(actor).get(self.detail_path.format(id=objects[foreign].pk)).expect(4004)
        missing = Api(actor).get(self.detail_path.format(id=10**12)).expect(4004)
        assert reply.message == missing.message  # indistinguishable from a missing id

    @pytest.mark.parametrize("foreign", ["b", "hq"])
    def test_update_of_foreign_row_is_not_found_and_changes_nothing(self, org, actor, objects, foreign):
        obj = objects[foreign]
        before = self.model.objects.filter(pk=obj.pk).values().get()
        path = (self.update_path or self.detail_path).format(id=obj.pk)
        Api(actor).call(self.update_method, path, self.update_body(org, obj)).expect(4004)
        assert self.model.objects.filter(pk=obj.pk).values().get() == before

    @pytest.mark.parametrize("foreign", ["b", "hq"])
    def test_delete_of_foreign_row_is_not_found_and_keeps_it(self, org, actor, objects, foreign):
        obj = objects[foreign]
        Api(actor).delete(self.detail_path.format(id=obj.pk)).expect(4004)
        assert self.model.objects.filter(pk=obj.pk).exists()

    def test_create_cannot_target_a_foreign_department(self, org, actor, objects):
        count = self.model.objects.count()
        reply = Api(actor).post(self.create_path or self.list_path, self.create_body(org, org.b)).expect(4001)
        assert self.department_field in reply.data["fields"]
        assert self.model.objects.count() == count

    def test_create_in_child_department_is_allowed(self, org, actor, objects):
        reply = Api(actor).post(self.create_path or self.list_path, self.create_body(org, org.a1)).expect(0)
        assert self.model.objects.filter(pk=reply.data["id"]).exists()

    def test_parent_department_member_sees_child_rows(self, org, actor, objects):
        Api(actor).get(self.detail_path.format(id=objects["a1"].pk)).expect(0)
        child = org.member(org.a1, ACTOR_CODES)
        ids = self.list_ids(Api(child).get(self.list_path, size=100).expect(0))
        assert objects["a1"].pk in ids and objects["a"].pk not in ids
