"""scheduler.TaskScheduler/PauseScheduler and ResumeScheduler: maintenance mode over gRPC, the same services
(permission system:manage, audit, validation) as POST /v1/scheduler/pause and /resume."""
from __future__ import annotations

import json

import grpc
import pytest
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from apps.accounts.models import AuditLog
from apps.tasks.models import SchedulerState
from conftest import Api
from apps.accounts.permissions import PERMISSION_CODES
from rpc.generated import scheduler_pb2 as pb
from rpc.tests.conftest import fails, trailer

pytestmark = pytest.mark.django_db(transaction=True)


def state_row() -> list[dict]:
    return list(SchedulerState.objects.values())


def test_pause_and_resume_over_grpc_answer_the_state_rest_shows(rpc, org):
    operator = org.member(org.hq, {"system:manage"})  # a top-department operator (issue 16)
    before = timezone.now()
    reply = rpc(operator).scheduler.PauseScheduler(pb.PauseSchedulerRequest(reason="storage migration"))
    assert (reply.success, reply.message, reply.paused, reply.reason) == (
        True, "scheduling paused on every node", True, "storage migration")
    assert (reply.paused_by, reply.paused_by_username) == (operator.pk, operator.username)
    assert before <= parse_datetime(reply.paused_at) <= timezone.now() and reply.paused_at.endswith("Z")
    rest = Api(org.member(org.b, {"task:view"})).get("scheduler/state").expect(0).data
    assert rest["paused"] is True and rest["reason"] == "storage migration"
    assert rest["pausedBy"] == {"id": operator.pk, "username": operator.username}
    assert parse_datetime(rest["pausedAt"]) == parse_datetime(reply.paused_at)

    reply = rpc(operator).scheduler.ResumeScheduler(pb.ResumeSchedulerRequest())
    assert (reply.success, reply.message, reply.paused, reply.paused_at, reply.paused_by, reply.reason) == (
        True, "scheduling resumed", False, "", 0, "")
    assert Api(org.admin).get("scheduler/state").expect(0).data["paused"] is False
    audits = list(AuditLog.objects.order_by("id").values_list("action", "via", "user_id", "client_ip"))
    assert audits == [("scheduler.pause", "grpc", operator.pk, "127.0.0.1"),
                      ("scheduler.resume", "grpc", operator.pk, "127.0.0.1")]


@pytest.mark.parametrize("method", ["PauseScheduler", "ResumeScheduler"])
def test_without_system_manage_the_call_is_refused_and_changes_nothing(rpc, org, method):
    if method == "ResumeScheduler":
        rpc(org.admin).scheduler.PauseScheduler(pb.PauseSchedulerRequest(reason="kept"))
    before, audits = state_row(), AuditLog.objects.count()
    client = rpc(org.member(org.hq, PERMISSION_CODES - {"system:manage"})).scheduler
    request = pb.PauseSchedulerRequest(reason="x") if method == "PauseScheduler" else pb.ResumeSchedulerRequest()
    err = fails(grpc.StatusCode.PERMISSION_DENIED, lambda: getattr(client, method)(request))
    assert "system:manage" in err.details() and trailer(err, "djs-code") == "4003"
    assert state_row() == before and AuditLog.objects.count() == audits


def test_a_reason_longer_than_255_characters_is_invalid_and_changes_nothing(rpc, org):
    err = fails(grpc.StatusCode.INVALID_ARGUMENT, lambda: rpc(org.admin).scheduler.PauseScheduler(
        pb.PauseSchedulerRequest(reason="r" * 256)))
    assert err.details().startswith("reason: ")
    assert list(json.loads(trailer(err, "djs-fields"))) == ["reason"]
    assert state_row() == [] and not AuditLog.objects.exists()


def test_an_unauthenticated_call_is_refused(rpc, org):
    fails(grpc.StatusCode.UNAUTHENTICATED,
          lambda: rpc().scheduler.PauseScheduler(pb.PauseSchedulerRequest(reason="anonymous")))
    fails(grpc.StatusCode.UNAUTHENTICATED, lambda: rpc().scheduler.ResumeScheduler(pb.ResumeSchedulerRequest()))
    assert state_row() == []
