"""Alert channels: webhook (JSON POST signed with HMAC-SHA256) and e-mail (SMTP).

Webhooks go through the scheduler's HTTP executor, so the egress policy (``security.egress``) decides
every hop exactly as for HTTP tasks, the answer is read bounded and a hung receiver costs
``alerts.webhookTimeout``. The signature lets a receiver check the body came from this platform::

    X-DJS-Timestamp: <unix seconds>
    X-DJS-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>

E-mail uses Django's SMTP backend with ``alerts.smtp.*`` (operator-configured, so no egress check).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage, get_connection

from apps.tasks.executors.common import bound_error
from apps.tasks.executors.http import HttpExecutor

SIGNATURE_HEADER = "X-DJS-Signature"
TIMESTAMP_HEADER = "X-DJS-Timestamp"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def webhook_request(payload: dict[str, Any], secret: str | None,
                    now: float | None = None) -> tuple[dict[str, str], str]:
    """(headers, body) of one webhook POST."""
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    timestamp = str(int(now if now is not None else time.time()))
    headers = {"Content-Type": "application/json", "X-DJS-Event": f"alert.{payload.get('kind', '')}",
               TIMESTAMP_HEADER: timestamp}
    if secret:
        headers[SIGNATURE_HEADER] = signature(secret, timestamp, body.encode())
    return headers, body


async def send_webhook(http: HttpExecutor, url: str, secret: str | None, payload: dict[str, Any],
                       timeout: float | None = None) -> dict[str, Any]:
    """POST the alert; never raises (except cancellation). The outcome is one ``deliveries`` entry.
    ``timeout``: at most that many seconds (the test endpoint's short bound), else ``alerts.webhookTimeout``."""
    headers, body = webhook_request(payload, secret)
    result = await http.send(url=url, method="POST", headers=headers, body=body,
                             idempotency_key=f"djs-alert-{payload.get('id')}", traceparent=None,
                             timeout=min(settings.DJS_ALERTS.webhook_timeout, timeout or float("inf")))
    error = None if result.success else (result.error or f"HTTP {result.status_code}")
    return {"channel": "webhook", "target": url, "ok": result.success, "statusCode": result.status_code,
            "error": bound_error(error, 500) if error else None}


def email_text(payload: dict[str, Any]) -> tuple[str, str]:
    """(subject, body) of the alert e-mail, plain text."""
    task = payload.get("task") or {}
    subject = f"[DJS] {payload['kind']}: {task.get('name') or 'alert'}"
    lines = [payload["message"], ""]
    if task:
        lines.append(f"Task: {task.get('name')} (#{task.get('id')}, department {task.get('departmentId')})")
    record = payload.get("record")
    if record:
        lines.append(f"Record: #{record['id']} ({record['year']:04d}-{record['month']:02d}), "
                     f"status {record.get('status')}")
        if record.get("error"):
            lines.append(f"Error: {record['error']}")
        if record.get("url"):
            lines.append(f"Open: {record['url']}")
    if payload.get("suppressed"):
        lines.append(f"{payload['suppressed']} similar alert(s) were suppressed since the last one.")
    lines += ["", f"Alert #{payload.get('id')} at {payload.get('time')}"]
    return " ".join(subject.splitlines())[:200], "\n".join(lines)


def send_email(recipients: list[str], payload: dict[str, Any], timeout: float | None = None) -> dict[str, Any]:
    """Send one e-mail to all recipients (blocking: run it off the event loop). Never raises. ``timeout``: at
    most that many seconds per socket operation, else ``alerts.smtp.timeout``."""
    conf = settings.DJS_ALERTS.smtp
    target = ", ".join(recipients)
    if not conf.host:
        return {"channel": "email", "target": target, "ok": False, "statusCode": None,
                "error": "e-mail is not configured (alerts.smtp.host is empty)"}
    subject, body = email_text(payload)
    try:
        connection = get_connection("django.core.mail.backends.smtp.EmailBackend", host=conf.host,
                                    port=conf.port, username=conf.username or None,
                                    password=conf.password or None, use_tls=conf.starttls,
                                    use_ssl=conf.ssl, timeout=min(conf.timeout, timeout or float("inf")),
                                    fail_silently=False)
        EmailMessage(subject=subject, body=body, from_email=conf.sender, to=recipients,
                     connection=connection).send()
    except Exception as exc:  # noqa: BLE001 - any SMTP failure is a failed delivery, recorded
        return {"channel": "email", "target": target, "ok": False, "statusCode": None,
                "error": bound_error(f"{type(exc).__name__}: {exc}", 500)}
    return {"channel": "email", "target": target, "ok": True, "statusCode": None, "error": None}
