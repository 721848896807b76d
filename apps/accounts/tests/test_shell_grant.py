"""Granting ``task:shell`` (commands on the scheduler hosts) needs ``system:manage`` besides ``role:manage`` and
holding ``task:shell`` (docs/security.md, finding 2)."""
from __future__ import annotations

from apps.accounts.models import Permission, Role
from conftest import Api


def ids(*codes: str) -> list[int]:
    return list(Permission.objects.filter(code__in=codes).values_list("id", flat=True))


def test_a_role_manager_holding_task_shell_cannot_grant_it_without_system_manage(org):
    manager = Api(org.member(org.hq, {"role:manage", "task:view", "task:shell"}))
    reply = manager.post("roles", {"name": "shell-ops", "permissions": ids("task:view", "task:shell"),
                                   "status": 1}).expect(4003)
    assert reply.message == "granting task:shell requires system:manage"
    assert not Role.objects.filter(name="shell-ops").exists()
    plain = manager.post("roles", {"name": "viewers", "permissions": ids("task:view"), "status": 1}).expect(0).data
    manager.put(f"roles/{plain['id']}", {"name": "viewers", "permissions": ids("task:view", "task:shell"),
                                         "status": 1}).expect(4003)
    assert set(Role.objects.get(pk=plain["id"]).permissions.values_list("code", flat=True)) == {"task:view"}


def test_system_manage_may_grant_task_shell_and_keeping_it_needs_nothing_more(org):
    admin = Api(org.admin)
    role = admin.post("roles", {"name": "shell-ops", "permissions": ids("task:view", "task:shell"),
                                "status": 1}).expect(0).data
    # A role manager who holds task:shell may still rename a role that already has it (nothing new granted).
    manager = Api(org.member(org.hq, {"role:manage", "task:view", "task:shell"}))
    manager.put(f"roles/{role['id']}", {"name": "shell-operators", "permissions": ids("task:view", "task:shell"),
                                        "status": 1}).expect(0)
