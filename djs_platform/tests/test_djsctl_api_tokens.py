"""``djsctl`` with ``DJS_TOKEN`` (issue 19): the installed console script, run as a sidecar would run it (no login,
no credentials file), against a real loopback HTTP server (pytest-django's ``live_server``: the platform's WSGI app
in a thread of this process, on the test database). ``djsctl tokens list|create|revoke`` for the token's user."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from apps.accounts import services
from apps.accounts.models import ApiToken
from djs_platform.actor import Actor
from tests.factories import TaskFactory

pytestmark = pytest.mark.django_db(transaction=True)

DJSCTL = Path(sys.executable).parent / "djsctl"


def djsctl(home: Path, *args: str, token: str | None, server: str) -> subprocess.CompletedProcess:
    assert DJSCTL.is_file(), f"{DJSCTL} is missing: `make venv` installs it (pip install --no-deps -e .)"
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "LANG": "C.UTF-8",
           "XDG_CONFIG_HOME": str(home / "xdg"), "DJS_SERVER": server}
    if token is not None:
        env["DJS_TOKEN"] = token
    return subprocess.run([str(DJSCTL), *args], env=env, cwd=home, text=True, capture_output=True, timeout=60)


def test_djsctl_works_with_an_api_token_in_djs_token(live_server, org, tmp_path):
    user = org.member(org.a, {"task:view"}, username="svc-billing")
    TaskFactory(department=org.a, name="billing-sync", status=0)
    TaskFactory(department=org.b, name="not-mine", status=0)
    first = services.api_token_create(actor=Actor(user=org.admin), user_id=user.pk,
                                      spec=services.ApiTokenSpec(name="sidecar"))
    server = live_server.url + "/v1"

    def run(*args: str, token: str | None = first.secret, ok: bool = True) -> subprocess.CompletedProcess:
        result = djsctl(tmp_path, *args, token=token, server=server)
        if ok:
            assert result.returncode == 0, (args, result.returncode, result.stdout, result.stderr)
        return result

    # no login: the token is the user, with their scope
    assert json.loads(run("whoami", "--json").stdout)["username"] == "svc-billing"
    assert [t["name"] for t in json.loads(run("tasks", "list", "--json").stdout)["list"]] == ["billing-sync"]

    # tokens create prints the secret alone on stdout, what it is on stderr
    created = run("tokens", "create", "deploy", "--expires-in-days", "7")
    second = created.stdout.strip()
    assert second.startswith("djs_pat_") and created.stdout == second + "\n"
    assert "created API token" in created.stderr and "shown this once" in created.stderr
    assert json.loads(run("whoami", "--json", token=second).stdout)["id"] == user.pk

    listed = json.loads(run("tokens", "list", "--json").stdout)["list"]
    assert [t["name"] for t in listed] == ["deploy", "sidecar"] and all("token" not in t for t in listed)
    table = run("tokens", "list").stdout
    assert table.splitlines()[0].split()[:4] == ["ID", "NAME", "PREFIX", "STATE"]
    assert second[:14] in table and second not in table and first.secret[14:] not in table

    # revoke the first with the second; the first is refused on its next use, with the variable named
    revoked = run("tokens", "revoke", str(first.token.pk), token=second)
    assert f"API token {first.token.pk} 'sidecar'" in revoked.stdout and "revoked" in revoked.stdout
    refused = run("tasks", "list", ok=False)
    assert refused.returncode == 1
    assert refused.stderr.startswith("error 4010: token revoked (the token in DJS_TOKEN)"), refused.stderr
    assert ApiToken.objects.get(pk=first.token.pk).revoked_at is not None

    # another user's tokens need user:manage over them
    other = run("tokens", "list", "--user", str(org.admin.pk), token=second, ok=False)
    assert other.returncode == 1 and other.stderr.startswith("error 4003"), other.stderr
    # logout has nothing to end; no credentials file was ever written
    out = run("logout", token=second, ok=False)
    assert out.returncode == 1 and "DJS_TOKEN is set" in out.stderr
    assert not (tmp_path / "xdg" / "djs" / "credentials.json").exists()
    # without the variable djsctl asks for a login, as before
    assert "not logged in" in run("tasks", "list", token=None, ok=False).stderr
