"""Seed 000's ctl flow (issue 18 item 11) with the installed `djsctl` against a real gunicorn, a real scheduler
node and a real HTTP target (the fixtures of tests/test_djsctl.py): `tasks trigger ID --wait` waits for the run
and prints its record (status, code, cost, response head), with a bounded `--timeout`; `triggers get ID`
follows a request; `djsctl ... | head` ends without a BrokenPipeError traceback."""
from __future__ import annotations

import json
import subprocess

import pytest

from tests.platform import ADMIN_PASSWORD
from tests.targets import Respond
from tests.test_djsctl import DJSCTL, Djsctl, running_platform  # noqa: F401 - `running_platform` is a fixture

pytestmark = [pytest.mark.processes, pytest.mark.single_backend]

RESPONSE = "\n".join(f'{{"line": {n}}}' for n in range(1, 13))  # 12 lines: the report shows the first 10

TASKS = """\
tasks:
  - {{name: wait-ok, department: Headquarters, cron: "02:00", status: 0, url: "{ok}", httpMethod: GET}}
  - {{name: wait-fail, department: Headquarters, cron: "30s", status: 0, url: "{fail}", httpMethod: GET}}
  - {{name: wait-slow, department: Headquarters, cron: "1h30m", status: 0, url: "{slow}", httpMethod: GET}}
"""


def lines_of(text: str) -> dict[str, str]:
    """A key/value block as {key: value} (first occurrence)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, _, value = line.partition("  ")
        if key and not key.startswith(" ") and key not in out:
            out[key] = value.strip()
    return out


def test_trigger_wait_prints_the_record_and_a_pipe_into_head_ends_quietly(running_platform, tmp_path):  # noqa: F811
    web, target = running_platform
    target.on("/ok", status=200, body=RESPONSE)
    target.on("/fail", status=503, body="maintenance")
    target.on("/slow", Respond(status=200, body="late", delay=4.0))
    cli = Djsctl(tmp_path, tmp_path / "xdg")
    cli("login", "--server", web.url, "--username", "admin", "--password-stdin", stdin=ADMIN_PASSWORD + "\n")
    tasks_file = tmp_path / "wait.yaml"
    tasks_file.write_text(TASKS.format(ok=target.url("/ok"), fail=target.url("/fail"), slow=target.url("/slow")))
    cli("tasks", "apply", str(tasks_file))
    ids = {t["name"]: str(t["id"]) for t in cli.json("tasks", "list", "--all")["list"]}
    listed = {t["name"]: t["cron"] for t in cli.json("tasks", "list", "--all")["list"]}
    assert (listed["wait-ok"], listed["wait-fail"], listed["wait-slow"]) == ("02:00", "30s", "1h30m")  # as typed

    # success: exit 0, the record block with status, code, cost and the first 10 lines of the response
    done = cli("tasks", "trigger", ids["wait-ok"], "--wait", "--timeout", "60")
    block = lines_of(done.stdout)
    assert block["status"] == "success" and block["code"] == "200" and block["cost ms"].isdigit()
    assert block["node"] == "cli-node" and block["trigger"].endswith(f"(task {ids['wait-ok']} wait-ok, MANUAL)")
    assert '  {"line": 10}' in done.stdout and '{"line": 11}' not in done.stdout
    record_id, month = block["record"].split(" ", 1)
    assert f"… cut; in full: djsctl records get {record_id} --year {month[1:5]} --month {int(month[6:8])}" \
        in done.stdout
    assert done.stderr == ""

    # --json: the trigger and the whole record; they agree with GET /triggers/{id} and the records API
    both = json.loads(cli("tasks", "trigger", ids["wait-ok"], "--wait", "--json").stdout)
    trigger, record = both["trigger"], both["record"]
    assert (trigger["state"], trigger["recordId"], record["id"]) == ("recorded", record["id"], trigger["recordId"])
    assert (record["status"], record["statusCode"], record["triggerType"], record["response"]) == (
        1, 200, "MANUAL", RESPONSE)
    again = cli.json("triggers", "get", str(trigger["id"]))
    assert (again["recordId"], again["recordYear"], again["recordMonth"]) == (
        record["id"], trigger["recordYear"], trigger["recordMonth"])
    fetched = cli.json("records", "get", str(record["id"]), "--year", str(trigger["recordYear"]),
                       "--month", str(trigger["recordMonth"]))
    assert fetched["id"] == record["id"] and fetched["taskId"] == int(ids["wait-ok"])
    shown = lines_of(cli("triggers", "get", str(trigger["id"])).stdout)
    assert shown["state"] == "recorded" and shown["record"].startswith(f"{record['id']}: djsctl records get")

    # a failed run: the record is printed all the same, exit 1
    failed = cli("tasks", "trigger", ids["wait-fail"], "--wait", ok=False)
    assert failed.returncode == 1, (failed.stdout, failed.stderr)
    block = lines_of(failed.stdout)
    assert (block["status"], block["code"]) == ("failed", "503") and "  maintenance" in failed.stdout

    # the timeout is bounded: exit 124, the run goes on and `triggers get --wait` picks it up
    slow = cli("tasks", "trigger", ids["wait-slow"], "--wait", "--timeout", "1", ok=False)
    assert slow.returncode == 124 and slow.stdout == "", (slow.stdout, slow.stderr)
    assert slow.stderr.startswith("error: timed out after 1s waiting for trigger ")
    slow_trigger = slow.stderr.split("waiting for trigger ", 1)[1].split(":", 1)[0]
    assert f"`djsctl triggers get {slow_trigger} --wait` waits again" in slow.stderr
    late = cli("triggers", "get", slow_trigger, "--wait", "--timeout", "60")
    assert lines_of(late.stdout)["status"] == "success" and "  late" in late.stdout
    timed_out = cli("tasks", "trigger", ids["wait-slow"], "--wait", "--timeout", "0.5", "--json", ok=False)
    envelope = json.loads(timed_out.stderr)
    assert timed_out.returncode == 124 and envelope["data"]["trigger"]["taskId"] == int(ids["wait-slow"])
    assert cli("tasks", "trigger", ids["wait-ok"], "--wait", "--timeout", "0", ok=False).returncode == 2  # usage
    assert cli("triggers", "get", "999999", ok=False).stderr.startswith("error 4004: trigger not found")

    # as reported: `djsctl tasks list ... | head` printed a BrokenPipeError traceback once head had exited. The
    # listing here is ~180 kB, far more than a pipe holds, so djsctl is still writing when head is gone.
    entries = [{"name": f"bulk-{n}", "department": "Headquarters", "cron": "@daily", "status": 0,
                "description": "x" * 9000, "url": target.url("/bulk"), "httpMethod": "GET"} for n in range(20)]
    bulk = tmp_path / "bulk.json"
    bulk.write_text(json.dumps({"tasks": entries}))
    cli("tasks", "apply", str(bulk))
    assert len(cli("tasks", "list", "--all", "--json").stdout) > 150_000
    script = f'"{DJSCTL}" tasks list --all --json | head -c 100 > /dev/null; echo "status=${{PIPESTATUS[0]}}" >&2'
    piped = subprocess.run(["bash", "-c", script], env=cli.env, cwd=cli.cwd, capture_output=True, text=True,
                           timeout=60)
    assert piped.stderr == "status=141\n", piped.stderr
