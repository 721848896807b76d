"""PolicySpec, the typed input of the alert policy services (issue 18 item 4)."""
from __future__ import annotations

import pytest

from apps.alerts import services
from apps.alerts.models import AlertPolicy
from apps.alerts.specs import PolicySpec, api_name
from conftest import Api, egress_settings
from djs_platform import errors
from djs_platform.actor import Actor
from djs_platform.inputs import MISSING
from tests.factories import TaskFactory


def invalid(values, *, create=True) -> dict[str, list[str]]:
    with pytest.raises(errors.InvalidArgument) as exc:
        PolicySpec.from_values(values, create=create)
    return exc.value.fields


def test_a_spec_holds_only_what_the_write_gives():
    spec = PolicySpec.from_values({"task_id": 4, "on_failure": True, "emails": [], "webhook_url": ""}, create=True)
    assert (spec.task_id, spec.department_id, spec.enabled, spec.on_failure) == (4, MISSING, MISSING, True)
    assert spec.given() == {"on_failure": True, "emails": None, "webhook_url": None}


def test_problems_are_named_by_the_spec_and_renamed_for_rest():
    fields = invalid({"task_id": 0, "enabled": "yes", "emails": ["ops@example.com", "OPS@example.com"],
                      "lag_seconds": 86401, "webhook_url": "ftp://x"})
    assert fields == {"enabled": ["Must be a valid boolean."],
                      "lag_seconds": ["Ensure this value is less than or equal to 86400."],
                      "webhook_url": ["must be an absolute http:// or https:// URL"],
                      "emails": ["lists an address more than once"],
                      "task_id": ["Ensure this value is greater than or equal to 1."]}
    assert [api_name(name) for name in fields] == ["enabled", "lagSeconds", "webhookUrl", "emails", "taskId"]
    assert api_name("emails.3") == "emails.3"


def test_a_create_names_exactly_one_scope_and_an_update_none():
    assert invalid({"task_id": 1, "department_id": 2, "on_failure": True}) == {
        "department_id": ["give taskId (a task's policy) or departmentId (a department default), not both"]}
    assert invalid({"on_failure": True}) == {
        "task_id": ["give taskId (a task's policy) or departmentId (a department default)"]}
    assert invalid({"task_id": 1}, create=False) == {"task_id": ["unknown field"]}


def test_a_cloud_metadata_webhook_is_refused_when_saved(org, settings):
    settings.DJS_EGRESS = egress_settings()
    task = TaskFactory(department=org.a, status=0)
    reply = Api(org.admin).post("alert-policies", {"taskId": task.pk, "onFailure": True,
                                                   "webhookUrl": "http://169.254.169.254/latest/"}).expect(4001)
    assert reply.data["fields"] == {"webhookUrl": ["egress denied: 169.254.169.254 is a cloud metadata address"]}
    assert not AlertPolicy.objects.exists()


def test_services_take_the_spec_and_name_their_own_problems_alike(org):
    task = TaskFactory(department=org.a, status=0)
    actor = Actor(user=org.admin, via="cli")
    with pytest.raises(errors.InvalidArgument) as exc:
        services.policy_create(actor=actor, spec=PolicySpec(task_id=task.pk, on_failure=True))
    assert exc.value.fields == {"webhook_url": ["give a webhook URL or at least one e-mail address"]}
    with pytest.raises(errors.InvalidArgument) as exc:  # a spec constructed directly is checked too
        services.policy_create(actor=actor, spec=PolicySpec(task_id=task.pk, lag_seconds=0))
    assert exc.value.fields == {"lag_seconds": ["Ensure this value is greater than or equal to 1."]}
    policy = services.policy_create(actor=actor, spec=PolicySpec(task_id=task.pk, on_failure=True,
                                                                 emails=["ops@example.com"]))
    updated = services.policy_update(actor=actor, policy_id=policy.pk, spec=PolicySpec(lag_seconds=60))
    assert (updated.lag_seconds, updated.on_failure, updated.emails) == (60, True, ["ops@example.com"])
    with pytest.raises(errors.InvalidArgument):
        services.policy_update(actor=actor, policy_id=policy.pk, spec=PolicySpec(department_id=org.a.pk))
