"""``djsctl executors register --every``: the sidecar loop registers, heartbeats, and deregisters on SIGTERM.

In-process: djsctl's own session speaks HTTP to the Django application through httpx's WSGI transport (the same
requests a sidecar sends, without a server process), and the signal is a real SIGTERM to this process."""
from __future__ import annotations

import signal
import time

import httpx
import pytest
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections

from apps.executors.models import Executor
from djs_platform import tokens
from djs_platform.cli import djsctl
from djs_platform.cli.client import Credentials, Session, Store
from djs_platform.cli.executors import heartbeat_loop, identity

SERVER = "http://testserver/v1"


@pytest.fixture(autouse=True)
def _same_connection():
    """Like Django's test client: requests served in the test's thread keep its connection (and transaction)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def session_for(user, tmp_path) -> Session:
    session = Session(Store(tmp_path), server=SERVER, load=False)
    session.creds = Credentials(server=SERVER, username=user.username, token=tokens.issue_pair(user).access,
                                expires_at=time.time() + 3600)
    session.http = httpx.Client(transport=httpx.WSGITransport(app=get_wsgi_application()))
    return session


def parse(*argv: str):
    return djsctl.build_parser().parse_args(["executors", *argv])


def test_the_sidecar_loop_heartbeats_and_deregisters_on_sigterm(org, tmp_path, capsys):
    session = session_for(org.member(org.a, {"executor:register"}), tmp_path)
    args = parse("register", "--name", "orders.Billing", "--kind", "grpc", "--address", "93.184.216.34:50051",
                 "--ttl", "30", "--every", "1s")
    seen: list[tuple[str, object]] = []
    real_call = session.call

    def call(method, path, **kw):
        data = real_call(method, path, **kw)
        seen.append((path, Executor.objects.filter(name="orders.Billing").values_list("last_heartbeat", flat=True)
                     .first()))
        if path == "executors/register" and len(seen) == 2:
            signal.raise_signal(signal.SIGTERM)  # what `kill <sidecar>` sends
        return data

    session.call = call
    previous = signal.getsignal(signal.SIGTERM)
    assert heartbeat_loop(args, session, {**identity(args), "ttlSeconds": 30}) == 0
    assert signal.getsignal(signal.SIGTERM) is previous  # the loop put the handler back
    assert [path for path, _ in seen] == ["executors/register", "executors/register", "executors/deregister"]
    assert seen[0][1] is not None and seen[1][1] > seen[0][1]  # the second call moved the heartbeat
    assert not Executor.objects.exists()
    out = capsys.readouterr().out
    assert "registered grpc orders.Billing at 93.184.216.34:50051" in out and out.rstrip().endswith("deregistered")


def test_the_loop_stops_on_an_answer_retrying_cannot_change(org, tmp_path, capsys):
    session = session_for(org.member(org.a, {"executor:view"}), tmp_path)  # no executor:register
    args = parse("register", "--name", "orders.Billing", "--kind", "grpc", "--address", "93.184.216.34:50051",
                 "--every", "1s")
    assert heartbeat_loop(args, session, identity(args)) == 1
    assert "error 4003" in capsys.readouterr().err
    assert not Executor.objects.exists()


def test_every_takes_durations():
    assert parse("register", "--name", "a", "--kind", "http", "--address", "http://x", "--every", "1m30s").every == 90
    assert parse("register", "--name", "a", "--kind", "http", "--address", "http://x", "--every", "10").every == 10
