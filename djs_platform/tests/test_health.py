"""Health and the loopback-only shutdown endpoint (the live graceful stop is in tests/test_processes.py)."""
from __future__ import annotations

import pytest

from conftest import Api


@pytest.mark.parametrize("remote, host", [("10.0.0.8", "127.0.0.1"), ("192.168.1.2", "localhost"),
                                          ("127.0.0.1", "djs.example.com")])
def test_shutdown_refuses_non_loopback_callers(db, remote, host):
    reply = Api().call("GET", "shutdown?wait=5", REMOTE_ADDR=remote, HTTP_HOST=host).expect(4003)
    assert "loopback" in reply.message


@pytest.mark.parametrize("query", ["", "?wait=0", "?wait=-1", "?wait=abc", "?wait=100000"])
def test_shutdown_needs_a_positive_wait(db, query):
    Api().call("GET", "shutdown" + query, REMOTE_ADDR="127.0.0.1", HTTP_HOST="127.0.0.1").expect(4001)
