"""Delivery claims of docs/alerts.md, each against real servers on loopback:

- a webhook redirect is a hop like any other: the egress policy (``security.egress``) decides it, and a hop
  to a denied address is never dialled (a real second server on a denied loopback address proves it);
- e-mail works with STARTTLS, implicit TLS and AUTH LOGIN/PLAIN against a real aiosmtpd server with a
  throwaway certificate made by ``openssl``; a wrong password is a failed delivery and is never stored;
- the node's alert queue is bounded (``alerts.queueSize``): a full queue drops events, counts them in
  ``djs_alert_events_dropped_total`` and the node keeps scheduling.

Trusting the test certificate: ``alerts.smtp.*`` has no CA-file or verify switch (Django's SMTP backend
verifies against the process's default OpenSSL trust store), so the tests trust it the way an operator has
to: through that store, here OpenSSL's ``SSL_CERT_FILE`` for the test process.
"""
from __future__ import annotations

import json
import ssl
import subprocess
import time
import urllib.request
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from apps.alerts.models import Alert, AlertPolicy
from apps.records.models import RecordStatus
from apps.tasks.models import Task
from conftest import Api, egress_settings
from tests.factories import TaskFactory, records_of
from tests.scheduling import finished, wait_until
from tests.targets import HttpTarget, OutboundGuard, Respond, SmtpSink, free_port


def idle_task(department, name: str = "nightly") -> Task:
    """A task for the test endpoint: it never runs here."""
    return Task.objects.create(name=name, department=department, task_type="HTTP", cron_expression="0 3 * * *",
                               timezone="UTC", url="http://127.0.0.1:9/x", status=0)


def send_test_alert(org, **policy) -> dict:
    """Create a task policy over REST and send a test alert on it; the stored alert as the API answers it."""
    api = Api(org.admin)
    task = idle_task(org.a)
    pid = api.post("alert-policies", {"taskId": task.pk, "onFailure": True, **policy}).expect(0).data["id"]
    return api.post(f"alert-policies/{pid}/test").expect(0).data


def errors_of(alert: dict) -> dict[str, str | None]:
    return {d["channel"]: d["error"] for d in alert["deliveries"]}


# --- 1. webhook redirects and the egress policy -----------------------------------------------------

@pytest.fixture
def receiver():
    with HttpTarget() as server:  # 127.0.0.1
        yield server


@pytest.fixture
def denied():
    """A real server on a loopback address the tests keep outside the egress policy."""
    with HttpTarget(host="127.0.0.2") as server:
        server.on("/stolen", status=200, body="metadata")
        direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # no proxy from the environment
        with direct.open(server.url("/stolen"), timeout=5) as resp:  # reachable, were it allowed
            assert resp.status == 200
        server.clear()
        yield server


@pytest.mark.parametrize("status", [302, 307])
def test_webhook_redirect_to_a_loopback_address_outside_allow_cidrs_is_not_followed(
        org, settings, receiver, denied, status):
    """Redirects are followed by hand, each hop checked before it is dialled."""
    # the receiver only; 127.0.0.2 is plain loopback
    settings.DJS_EGRESS = egress_settings(allow_cidrs=["127.0.0.1/32"])
    receiver.on("/hook", Respond(status=status, redirect=denied.url("/stolen")))

    alert = send_test_alert(org, webhookUrl=receiver.url("/hook"), webhookSecret="s3cret")

    assert alert["status"] == "failed"
    (delivery,) = alert["deliveries"]
    assert (delivery["channel"], delivery["ok"]) == ("webhook", False)
    assert delivery["error"] == "egress denied: 127.0.0.2 is a loopback address (not in allowCidrs)"
    assert [r.method for r in receiver.requests("/hook")] == ["POST"]
    assert denied.requests() == []
    assert Alert.objects.get(pk=alert["id"]).status == "failed"


def test_webhook_redirect_into_deny_cidrs_is_not_followed(org, settings, receiver, denied):
    """An explicit deny wins over the allow that covers it (127.0.0.0/8 allowed, 127.0.0.2 denied)."""
    settings.DJS_EGRESS = egress_settings(allow_cidrs=["127.0.0.0/8"], deny_cidrs=["127.0.0.2/32"])
    receiver.on("/hook", Respond(status=307, redirect=denied.url("/stolen")))

    alert = send_test_alert(org, webhookUrl=receiver.url("/hook"))

    assert alert["status"] == "failed"
    assert errors_of(alert) == {"webhook": "egress denied: 127.0.0.2 is in denyCidrs"}
    assert len(receiver.requests("/hook")) == 1 and denied.requests() == []


def test_webhook_redirect_inside_the_policy_is_followed(org, settings, receiver, denied):
    """The control for the tests above: with 127.0.0.2 allowed, the same 307 reaches the second server,
    so "nothing arrived" there means refused, not unreachable."""
    settings.DJS_EGRESS = egress_settings(allow_cidrs=["127.0.0.0/8"])
    receiver.on("/hook", Respond(status=307, redirect=denied.url("/stolen")))

    alert = send_test_alert(org, webhookUrl=receiver.url("/hook"))

    assert alert["status"] == "sent", alert
    (hit,) = denied.requests("/stolen")
    assert hit.method == "POST" and json.loads(hit.body)["id"] == alert["id"]  # 307 keeps method and body


@pytest.mark.parametrize("location, reason", [
    ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a cloud metadata address"),
    ("http://metadata.google.internal/computeMetadata/v1/", "host metadata.google.internal is a cloud metadata "
                                                            "endpoint"),
])
@pytest.mark.parametrize("status", [302, 307])
def test_webhook_redirect_to_cloud_metadata_is_never_dialled(org, settings, receiver, location, reason, status):
    settings.DJS_EGRESS = egress_settings(allow_cidrs=["127.0.0.1/32"])
    receiver.on("/hook", Respond(status=status, redirect=location))

    with OutboundGuard() as guard:  # records every connect(), refuses any that leaves loopback
        alert = send_test_alert(org, webhookUrl=receiver.url("/hook"))

    assert alert["status"] == "failed"
    assert errors_of(alert) == {"webhook": f"egress denied: {reason}"}
    assert len(receiver.requests("/hook")) == 1
    assert guard.non_loopback == []
    assert guard.connected_to(receiver.port)


@pytest.mark.django_db(transaction=True)
def test_node_webhook_redirect_to_a_denied_address_fails_the_delivery(node_factory, settings, org, receiver, denied):
    """The same through a scheduler node's own HTTP client: a failing task, its alert's webhook answered
    by a redirect to a denied address."""
    with HttpTarget() as target:
        target.on("/fail", status=500)
        settings.DJS_EGRESS = egress_settings(allow_cidrs=["127.0.0.1/32"])  # read when the node starts
        receiver.on("/hook", Respond(status=307, redirect=denied.url("/stolen")))
        task = TaskFactory(department=org.a, url=target.url("/fail"), cron_expression="0 0 1 1 *",
                           status=2, next_execute_time=datetime.now(timezone.utc) + timedelta(seconds=1))  # one shot
        AlertPolicy.objects.create(department=org.a, task=task, on_failure=True, webhook_url=receiver.url("/hook"),
                                   cooldown_seconds=0, scope_key=f"task:{task.pk}")
        node_factory()
        (record,) = wait_until(finished(task, 1))
        assert record.status == RecordStatus.FAILED

        alert = wait_until(lambda: Alert.objects.exclude(status="sending").first())
    assert (alert.kind, alert.record_id, alert.status) == ("failure", record.pk, "failed")
    assert [d["error"] for d in alert.deliveries] == [
        "egress denied: 127.0.0.2 is a loopback address (not in allowCidrs)"]
    assert len(receiver.requests("/hook")) == 1 and denied.requests() == []


# --- 2. SMTP: STARTTLS, implicit TLS, AUTH --------------------------------------------------------

@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    """A throwaway self-signed certificate for 127.0.0.1 (cert, key)."""
    folder = tmp_path_factory.mktemp("smtp-tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True, timeout=60)
    return cert, key


@pytest.fixture
def trusted(certificate, monkeypatch) -> None:
    """Make the test certificate the process's trust anchor (OpenSSL ``SSL_CERT_FILE``): alerts.smtp.* has
    no CA option of its own."""
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))


class TlsSmtpSink(SmtpSink):
    """:class:`SmtpSink` behind TLS: STARTTLS required (``implicit=False``) or SMTP over TLS from the first
    byte (``implicit=True``); with ``users``, AUTH is required and checked (``mechanisms`` advertised).
    Records how each accepted mail arrived (TLS version, authenticated login) and every AUTH attempt."""

    def __init__(self, certificate: tuple[Path, Path], *, implicit: bool = False,
                 users: dict[str, str] | None = None, mechanisms: tuple[str, ...] = ("LOGIN", "PLAIN")):
        super().__init__()
        self.certificate = certificate
        self.implicit = implicit
        self.users = users
        self.mechanisms = mechanisms
        self.arrivals: list[dict] = []
        self.auth_attempts: list[tuple[str, str, bool]] = []

    def __enter__(self) -> "TlsSmtpSink":
        from aiosmtpd.controller import Controller

        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*map(str, self.certificate))
        self.port = free_port()
        options: dict = {"ssl_context": context} if self.implicit else {"tls_context": context,
                                                                           "require_starttls": True}
        if self.users is not None:
            options.update(authenticator=self._authenticate, auth_required=True,
                           auth_exclude_mechanism=[m for m in ("LOGIN", "PLAIN") if m not in self.mechanisms])
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port, **options)
        self._controller.start()
        return self

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        from aiosmtpd.smtp import AuthResult, LoginPassword

        login = auth_data.login.decode() if isinstance(auth_data, LoginPassword) else ""
        ok = (isinstance(auth_data, LoginPassword) and self.users is not None
              and self.users.get(login) == auth_data.password.decode())
        with self._lock:
            self.auth_attempts.append((mechanism, login, ok))
        return AuthResult(success=ok, handled=False, auth_data=login if ok else None)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        tls = server.transport.get_extra_info("ssl_object") if server.transport else None
        with self._lock:
            self.arrivals.append({"tls": tls.version() if tls else None,
                                  "login": session.auth_data if session.authenticated else None})
        return await super().handle_DATA(server, session, envelope)


def use_smtp(settings, port: int, **over) -> None:
    values = {"host": "127.0.0.1", "port": port, "sender": "djs@example.com", "username": "", "password": "",
              "starttls": False, "ssl": False, "timeout": 10, **over}
    smtp = replace(settings.DJS_ALERTS.smtp, **values)
    settings.DJS_ALERTS = replace(settings.DJS_ALERTS, smtp=smtp)


def test_email_alert_goes_through_a_server_that_requires_starttls(org, settings, certificate, trusted):
    with TlsSmtpSink(certificate) as smtp:
        use_smtp(settings, smtp.port, starttls=True)
        alert = send_test_alert(org, emails=["ops@example.com"])
        assert alert["status"] == "sent", alert
        (mail,) = smtp.wait_for(1)
    assert mail.recipients == ["ops@example.com"] and mail.subject == "[DJS] test: nightly"
    (arrival,) = smtp.arrivals
    assert arrival["tls"] and arrival["tls"].startswith("TLSv1.")


def test_email_without_starttls_is_refused_by_a_server_that_requires_it(org, settings, certificate, trusted):
    with TlsSmtpSink(certificate) as smtp:
        use_smtp(settings, smtp.port, starttls=False)
        alert = send_test_alert(org, emails=["ops@example.com"])
    assert alert["status"] == "failed"
    assert "STARTTLS" in errors_of(alert)["email"]
    assert smtp.mails() == []


def test_email_alert_goes_over_implicit_tls(org, settings, certificate, trusted):
    with TlsSmtpSink(certificate, implicit=True) as smtp:
        use_smtp(settings, smtp.port, ssl=True)
        alert = send_test_alert(org, emails=["ops@example.com", "oncall@example.com"])
        assert alert["status"] == "sent", alert
        (mail,) = smtp.wait_for(1)
    assert sorted(mail.recipients) == ["oncall@example.com", "ops@example.com"]
    (arrival,) = smtp.arrivals
    assert arrival["tls"] and arrival["tls"].startswith("TLSv1.")


@pytest.mark.parametrize("mode", ["starttls", "ssl"])
def test_email_to_a_server_with_an_untrusted_certificate_fails(org, settings, certificate, mode):
    """No trust anchor for the server's certificate: the client verifies and refuses, nothing is sent."""
    with TlsSmtpSink(certificate, implicit=mode == "ssl") as smtp:
        use_smtp(settings, smtp.port, **{mode: True})
        alert = send_test_alert(org, emails=["ops@example.com"])
    assert alert["status"] == "failed"
    assert "CERTIFICATE_VERIFY_FAILED" in errors_of(alert)["email"]
    assert smtp.mails() == []


@pytest.mark.parametrize("mechanism", ["LOGIN", "PLAIN"])
def test_email_alert_authenticates_with_username_and_password(org, settings, certificate, trusted, mechanism):
    with TlsSmtpSink(certificate, users={"djs-alerts": "pa55-w0rd"}, mechanisms=(mechanism,)) as smtp:
        use_smtp(settings, smtp.port, starttls=True, username="djs-alerts", password="pa55-w0rd")
        alert = send_test_alert(org, emails=["ops@example.com"])
        assert alert["status"] == "sent", alert
        smtp.wait_for(1)
    assert smtp.auth_attempts == [(mechanism, "djs-alerts", True)]
    assert smtp.arrivals[0]["login"] == "djs-alerts"


def test_wrong_smtp_password_is_a_failed_delivery_and_the_password_is_never_stored(org, settings, certificate,
                                                                                   trusted):
    import base64

    password = "not-the-Pa55word"
    with TlsSmtpSink(certificate, users={"djs-alerts": "pa55-w0rd"}) as smtp:
        use_smtp(settings, smtp.port, starttls=True, username="djs-alerts", password=password)
        alert = send_test_alert(org, emails=["ops@example.com"])
    assert alert["status"] == "failed"
    error = errors_of(alert)["email"]
    assert error.startswith("SMTPAuthenticationError") and "535" in error
    assert smtp.mails() == [] and smtp.auth_attempts and not any(ok for _, _, ok in smtp.auth_attempts)

    row = json.dumps(list(Alert.objects.filter(pk=alert["id"]).values()), default=str)
    answered = json.dumps(Api(org.admin).get(f"alerts/{alert['id']}").expect(0).data)
    secrets = (password, base64.b64encode(password.encode()).decode(),
               base64.b64encode(f"\0djs-alerts\0{password}".encode()).decode())
    for text in (row, answered):
        assert not any(secret in text for secret in secrets)


# --- 3. the node's bounded alert queue ----------------------------------------------------------

def dropped_events(client) -> float:
    """djs_alert_events_dropped_total as /v1/metrics shows it."""
    resp = client.get("/v1/metrics")
    assert resp.status_code == 200
    for family in text_string_to_metric_families(resp.content.decode()):
        for sample in family.samples:
            if sample.name == "djs_alert_events_dropped_total":
                return sample.value
    raise AssertionError("djs_alert_events_dropped_total is not exposed")


@pytest.mark.django_db(transaction=True)
def test_full_alert_queue_drops_and_counts_events_and_the_node_keeps_scheduling(node_factory, settings, org,
                                                                                 receiver):
    """alerts.queueSize 1, eight tasks failing every second, a receiver taking 2 s per webhook: the two
    consumers and the one queue slot are taken, so most failure events are dropped and counted; the
    tasks, and a healthy one beside them, keep firing every second, and alerts already queued still go."""
    settings.DJS_ALERTS = replace(settings.DJS_ALERTS, queue_size=1, max_per_minute=0)
    metrics_client = Api(org.admin).client
    before = dropped_events(metrics_client)
    with HttpTarget() as target:
        target.on("/fail", status=500)
        receiver.on("/hook", Respond(status=200, delay=2.0))
        failing = [TaskFactory(department=org.a, url=target.url("/fail"), name=f"failing-{i}") for i in range(8)]
        healthy = TaskFactory(department=org.b, url=target.url("/ok"), name="healthy")
        AlertPolicy.objects.create(department=org.a, on_failure=True, webhook_url=receiver.url("/hook"),
                                   cooldown_seconds=0, scope_key=f"department:{org.a.pk}")
        node_factory()

        wait_until(lambda: dropped_events(metrics_client) - before >= 5, timeout=15)

        # the node keeps scheduling: every task, failing or not, goes on finishing a run a second
        counts = {task.pk: len(finished(task, 0)()) for task in failing + [healthy]}
        time.sleep(3.0)
        for task in failing + [healthy]:
            assert len(finished(task, 0)()) >= counts[task.pk] + 2, task.name
        assert {r.status for r in records_of(healthy) if r.status != RecordStatus.RUNNING} == {RecordStatus.SUCCESS}

        # the events that made it into the queue are still alerted and delivered
        wait_until(lambda: Alert.objects.filter(status="sent").exists(), timeout=10)
        assert receiver.requests("/hook")
        # far fewer alerts than failures: the rest were dropped, not queued without bound
        failures = sum(len([r for r in records_of(t) if r.status == RecordStatus.FAILED]) for t in failing)
        assert Alert.objects.count() < failures
        assert dropped_events(metrics_client) - before >= 5
