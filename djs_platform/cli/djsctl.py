"""``djsctl``: the DJS command line (docs/djsctl.md).

    djsctl login [--server URL] [--username NAME] [--password-stdin]
    djsctl tasks list|get|create|apply|enable|disable|trigger [--wait]|kill|delete ...
    djsctl triggers get ID [--wait]
    djsctl records list|get|stats ...
    djsctl nodes
    djsctl executors register|deregister|list ...   (register --every 10s: a sidecar heartbeat loop)
    djsctl tokens list|create|revoke ...

``DJS_TOKEN`` in the environment (an API token ``djs_pat_...``) is used instead of a login (docs/djsctl.md).
Tables by default, ``--json`` prints the API's ``data`` as JSON. Exit status: 0 success, 1 an error (the
envelope's code and message on stderr; with ``--json`` the whole error envelope on stderr) or a waited-for run
that did not succeed, 2 a usage error, 124 ``--wait`` timed out, 141 the reader of the output went away
(``djsctl ... | head``).
"""
from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Any

import yaml

from djs_platform.cli import executors as executor_commands
from djs_platform.cli import output
from djs_platform.cli.client import DEFAULT_SERVER, CliError, Session, Store

TASK_TYPES = ("HTTP", "GRPC", "SHELL")


# --- helpers ----------------------------------------------------------------------------------------

def emit(args: argparse.Namespace, data: Any, text: Callable[[Any], str]) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False) if args.json else text(data))


def read_document(path: str) -> Any:
    try:
        raw = sys.stdin.read() if path == "-" else open(path, encoding="utf-8").read()
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}") from None
    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise CliError(f"{path}: not valid YAML or JSON: {exc}") from None


def all_pages(session: Session, path: str, params: dict[str, Any]) -> dict[str, Any]:
    """Every page of a list route, as one ``{list, total, page: 1, size: total}``."""
    items: list[Any] = []
    page = 1
    while True:
        data = session.call("GET", path, params={**params, "page": page, "size": 100})
        items += data["list"]
        if not data["list"] or len(items) >= data["total"]:
            return {"list": items, "total": data["total"], "page": 1, "size": len(items)}
        page += 1


def this_month() -> tuple[int, int]:
    now = datetime.now(timezone.utc)
    return now.year, now.month


def page_footer(data: dict[str, Any]) -> str:
    shown = len(data["list"])
    if data["total"] <= shown:
        return f"{data['total']} total"
    return f"page {data['page']} ({shown} of {data['total']}; --page N, --size N or --all for more)"


# --- auth -------------------------------------------------------------------------------------------

def cmd_login(args: argparse.Namespace, store: Store) -> int:
    try:
        previous = store.load()
    except CliError:  # an unreadable file is what a new login replaces
        previous = None
    server = args.server or (previous.server if previous else DEFAULT_SERVER)
    session = Session(store, server=server, load=False)
    username = args.username or (input("Username: ").strip() if sys.stdin.isatty() else "")
    if not username:
        raise CliError("a username is needed: --username NAME")
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif sys.stdin.isatty():
        password = getpass.getpass(f"Password for {username}: ")
    else:
        raise CliError("no terminal to ask for the password: pipe it with --password-stdin")
    data = session.login(username, password)
    user = data["user"]
    if args.json:
        emit(args, {"server": session.server, "username": username, "credentials": str(store.path),
                    "expiresIn": data["expiresIn"], "user": user}, str)
    else:
        print(f"Logged in to {session.server} as {username} ({user['departmentName']}, role {user['roleName']}); "
              f"credentials in {store.path}")
    return 0


def cmd_logout(args: argparse.Namespace, store: Store) -> int:
    session = Session(store)
    try:
        session.logout()
    except CliError as exc:
        if exc.code != 4010:
            raise
        print("the session had already expired or been revoked; forgot it here")
        return 0
    print(f"Logged out of {session.server}: every token of {session.creds.username} is revoked")
    return 0


def cmd_whoami(args: argparse.Namespace, store: Store) -> int:
    session = Session(store)
    data = session.call("GET", "auth/userinfo")
    emit(args, data, lambda d: output.key_values(
        [("server", session.server)] + [(k, d.get(k)) for k in ("username", "realName", "departmentId",
                                                                 "departmentName", "roleName", "permissions")]))
    return 0


# --- tasks ------------------------------------------------------------------------------------------

TASK_COLUMNS = ["ID", "NAME", "TYPE", "DEPARTMENT", "STATUS", "CRON", "TIMEZONE", "NEXT RUN", "LAST RUN"]


def task_row(t: dict[str, Any]) -> list[Any]:
    return [t["id"], t["name"], t["taskType"], t["departmentName"], output.TASK_STATUS.get(t["status"], t["status"]),
            t["cron"], t["timezone"], t["nextExecuteTime"], t["lastExecuteTime"]]


def cmd_tasks_list(args: argparse.Namespace, store: Store) -> int:
    session = Session(store)
    params = {"keyword": args.keyword, "departmentId": args.department, "taskType": args.type,
              "status": args.status}
    data = all_pages(session, "tasks", params) if args.all else \
        session.call("GET", "tasks", params={**params, "page": args.page, "size": args.size})
    emit(args, data, lambda d: output.table(TASK_COLUMNS, [task_row(t) for t in d["list"]]) + "\n" + page_footer(d))
    return 0


def cmd_tasks_get(args: argparse.Namespace, store: Store) -> int:
    data = Session(store).call("GET", f"tasks/{args.id}")
    emit(args, data, lambda d: output.key_values(d.items()))
    return 0


def cmd_tasks_create(args: argparse.Namespace, store: Store) -> int:
    body = read_document(args.file)
    if not isinstance(body, dict):
        raise CliError(f"{args.file}: must hold one task (a mapping with type, name, departmentId, cron, ...)")
    body = dict(body)
    kind = str(body.pop("type", "HTTP")).upper()
    if kind not in TASK_TYPES:
        raise CliError(f"{args.file}: type must be one of {', '.join(TASK_TYPES)}")
    data = Session(store).call("POST", f"tasks/{kind.lower()}", json_body=body)
    emit(args, data, lambda d: f"created task {d['id']} {d['name']!r} ({d['taskType']}, {d['departmentName']}), "
                               f"next run {output.cell(d['nextExecuteTime'])}")
    return 0


def cmd_tasks_apply(args: argparse.Namespace, store: Store) -> int:
    document = read_document(args.file)
    if isinstance(document, list):
        document = {"tasks": document}
    if not isinstance(document, dict):
        raise CliError(f"{args.file}: must be a mapping with `tasks` (and optionally `departments`), "
                       "or a list of tasks")
    body = {**document, "dryRun": args.dry_run, "prune": args.prune}
    data = Session(store).call("POST", "tasks/apply", json_body=body)
    emit(args, data, output.apply_report)
    return 0


def set_status(status: int, word: str) -> Callable[[argparse.Namespace, Store], int]:
    def run(args: argparse.Namespace, store: Store) -> int:
        data = Session(store).call("PATCH", f"tasks/{args.id}/status", json_body={"status": status})
        emit(args, data, lambda d: f"task {d['id']} {d['name']!r} {word}; next run {output.cell(d['nextExecuteTime'])}")
        return 0
    return run


def cmd_tasks_trigger(args: argparse.Namespace, store: Store) -> int:
    overrides: dict[str, Any] = {}
    for key, raw in (("body", args.body), ("headers", args.headers), ("grpcParams", args.grpc_params)):
        if raw is not None:
            overrides[key] = raw
    session = Session(store)
    data = session.call("POST", f"tasks/{args.id}/trigger", json_body=overrides)
    if args.wait:
        return wait_and_print(args, session, data["triggerId"])
    emit(args, data, lambda d: f"task {d['taskId']} triggered (request {d['triggerId']}); a scheduler node runs it "
                               f"within a second: `djsctl triggers get {d['triggerId']}` names its record "
                               "(--wait waits for it)")
    return 0


# --- waiting for a triggered run (seed 000's `ctl trigger` + `get-instance`) ---------------------------

#: Polling: first after 0.2 s, then 1.5 times longer each time, at most every 2 s.
POLL_FIRST, POLL_GROWTH, POLL_MAX = 0.2, 1.5, 2.0
#: How much of the response the record block shows (`records get` shows it all).
RESPONSE_HEAD_LINES, RESPONSE_HEAD_CHARS = 10, 1000
WAIT_TIMEOUT_STATUS = 124  # as timeout(1)


def follow_trigger(session: Session, trigger_id: int, timeout: float) -> tuple[dict[str, Any], dict[str, Any]]:
    """Poll ``GET /triggers/{id}`` until a node made its record, then ``GET /records/{id}`` until the record is
    final (not running). Raises CliError: the request was dropped (status 1), or ``timeout`` seconds passed
    (status 124, ``data`` = the last trigger and record seen)."""
    deadline = time.monotonic() + timeout
    delay = POLL_FIRST
    trigger: dict[str, Any] = {}
    record: dict[str, Any] | None = None
    while True:
        if record is None:
            trigger = session.call("GET", f"triggers/{trigger_id}")
            if trigger["state"] == "dropped":
                raise CliError(f"trigger {trigger_id} was dropped by node {trigger['claimedBy']}: the task did not run "
                               "(its department, or one above it, was disabled)", data={"trigger": trigger})
        if trigger["state"] == "recorded":
            record = session.call("GET", f"records/{trigger['recordId']}",
                                  params={"year": trigger["recordYear"], "month": trigger["recordMonth"]})
            if record["status"] != 0:  # 0: waiting or running; anything else is final
                return trigger, record
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            where = (f"record {record['id']} is still {'running' if record['startTime'] else 'waiting to start'}"
                     if record else "no scheduler node has taken it yet")
            again = f"`djsctl triggers get {trigger_id} --wait` waits again"
            raise CliError(f"timed out after {timeout:g}s waiting for trigger {trigger_id}: {where}; {again}",
                           data={"trigger": trigger, "record": record}, status=WAIT_TIMEOUT_STATUS)
        time.sleep(min(delay, remaining))
        delay = min(delay * POLL_GROWTH, POLL_MAX)


def response_head(text: str | None) -> tuple[str | None, bool]:
    """The first lines of a response (at most RESPONSE_HEAD_LINES / RESPONSE_HEAD_CHARS) and whether it was cut."""
    if text is None:
        return None, False
    lines = text[:RESPONSE_HEAD_CHARS].splitlines()
    return "\n".join(lines[:RESPONSE_HEAD_LINES]), len(text) > RESPONSE_HEAD_CHARS or len(lines) > RESPONSE_HEAD_LINES


def one_line(text: str | None, limit: int = 300) -> str | None:
    if text is None:
        return None
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit - 1] + "…"


def run_report(trigger: dict[str, Any], record: dict[str, Any]) -> str:
    """The record of a triggered run: status, code, cost, then the head of the response."""
    status = output.RECORD_STATUS.get(record["status"], record["status"])
    month = f"--year {trigger['recordYear']} --month {trigger['recordMonth']}"
    block = output.key_values([
        ("trigger", f"{trigger['id']} (task {trigger['taskId']} {trigger['taskName']}, {trigger['triggerType']})"),
        ("record", f"{record['id']} ({trigger['recordYear']}-{trigger['recordMonth']:02d})"),
        ("status", status), ("code", record["statusCode"]), ("cost ms", record["costTime"]),
        ("retries", record["retryTimes"]), ("fallback", record["usedFallback"]), ("node", record["executor"]),
        ("started", output.cell(record["startTime"])), ("ended", output.cell(record["endTime"])),
        ("error", one_line(record["error"]))])
    head, cut = response_head(record["response"])
    if head is None:
        return block + "\nresponse  -"
    if not head and not cut:
        return block + "\nresponse  (empty)"
    more = f"\n  … cut; in full: djsctl records get {record['id']} {month}" if cut else ""
    return block + "\nresponse\n" + "\n".join("  " + line for line in head.splitlines() or [""]) + more


def wait_and_print(args: argparse.Namespace, session: Session, trigger_id: int) -> int:
    trigger, record = follow_trigger(session, trigger_id, args.timeout)
    emit(args, {"trigger": trigger, "record": record}, lambda d: run_report(d["trigger"], d["record"]))
    return 0 if record["status"] == 1 else 1


TRIGGER_STATE = {"pending": "pending: no scheduler node has taken it yet",
                 "recorded": "recorded", "dropped": "dropped: a node took it and ran nothing"}


def cmd_triggers_get(args: argparse.Namespace, store: Store) -> int:
    session = Session(store)
    if args.wait:
        return wait_and_print(args, session, args.id)
    data = session.call("GET", f"triggers/{args.id}")

    def text(d: dict[str, Any]) -> str:
        record = None
        if d["recordId"] is not None:
            record = f"{d['recordId']}: djsctl records get {d['recordId']} --year {d['recordYear']} " \
                     f"--month {d['recordMonth']}"
        return output.key_values([
            ("trigger", d["id"]), ("task", f"{d['taskId']} {d['taskName']}"), ("type", d["triggerType"]),
            ("requested", output.cell(d["requestedAt"])), ("state", TRIGGER_STATE.get(d["state"], d["state"])),
            ("node", d["claimedBy"]), ("claimed", output.cell(d["claimedAt"])), ("record", record)])
    emit(args, data, text)
    return 0


def cmd_tasks_kill(args: argparse.Namespace, store: Store) -> int:
    data = Session(store).call("POST", f"tasks/{args.id}/kill", json_body={})
    emit(args, data, lambda d: f"kill requested for every running execution of task {d['taskId']}")
    return 0


def cmd_tasks_delete(args: argparse.Namespace, store: Store) -> int:
    data = Session(store).call("DELETE", f"tasks/{args.id}")
    emit(args, data, lambda d: f"task {args.id} deleted")
    return 0


# --- records, nodes ---------------------------------------------------------------------------------

RECORD_COLUMNS = ["ID", "TASK", "NAME", "TRIGGER", "SCHEDULED", "STATUS", "CODE", "COST MS", "RETRIES", "NODE"]


def record_row(r: dict[str, Any]) -> list[Any]:
    return [r["id"], r["taskId"], r["taskName"], r["triggerType"], r["scheduledTime"],
            output.RECORD_STATUS.get(r["status"], r["status"]), r["statusCode"], r["costTime"], r["retryTimes"],
            r["executor"]]


def month_params(args: argparse.Namespace) -> dict[str, Any]:
    year, month = this_month()
    return {"year": args.year or year, "month": args.month or month}


def cmd_records_list(args: argparse.Namespace, store: Store) -> int:
    session = Session(store)
    params = {**month_params(args), "taskId": args.task, "departmentId": args.department, "status": args.status,
              "triggerType": args.trigger, "taskType": args.type,
              "success": None if args.success is None else ("true" if args.success == "yes" else "false")}
    data = all_pages(session, "records", params) if args.all else \
        session.call("GET", "records", params={**params, "page": args.page, "size": args.size})
    emit(args, data, lambda d: output.table(RECORD_COLUMNS, [record_row(r) for r in d["list"]]) + "\n"
         + page_footer(d))
    return 0


def cmd_records_get(args: argparse.Namespace, store: Store) -> int:
    data = Session(store).call("GET", f"records/{args.id}", params=month_params(args))
    emit(args, data, lambda d: output.key_values(d.items()))
    return 0


def cmd_records_stats(args: argparse.Namespace, store: Store) -> int:
    params = {**month_params(args), "taskId": args.task, "departmentId": args.department}
    data = Session(store).call("GET", "records/stats", params=params)

    def text(d: dict[str, Any]) -> str:
        rate = "-" if d["successRate"] is None else f"{d['successRate'] * 100:.1f}%"
        head = output.key_values([
            ("month", f"{d['year']}-{d['month']:02d}"), ("executions", d["total"]), ("success", d["successCount"]),
            ("failed", d["failCount"]), ("running", d["runningCount"]), ("killed", d["killedCount"]),
            ("skipped", d["skippedCount"]), ("lost", d["lostCount"]), ("success rate", rate),
            ("avg cost ms", None if d["avgCostTime"] is None else round(d["avgCostTime"], 1)),
            ("p95 cost ms", d["p95CostTime"])])
        failing = d.get("topFailingTasks") or []
        if not failing:
            return head
        keys = list(failing[0])
        return head + "\n\nmost failing tasks\n" + output.table([k.upper() for k in keys],
                                                                 [[row.get(k) for k in keys] for row in failing])
    emit(args, data, text)
    return 0


NODE_COLUMNS = ["ID", "NAME", "HOST", "PID", "STATUS", "ALIVE", "PAUSED", "RUNNING", "VERSION", "STARTED",
                "HEARTBEAT AGE S"]


def cmd_nodes(args: argparse.Namespace, store: Store) -> int:
    data = Session(store).call("GET", "nodes")
    emit(args, data, lambda d: output.table(NODE_COLUMNS, [
        [n["id"], n["name"], n["host"], n["pid"], n["status"], n["alive"], n.get("paused"), n["running"], n["version"],
         n["startedAt"], round(n["heartbeatAge"], 1)] for n in d]))
    return 0


# --- personal API tokens (issue 19) -----------------------------------------------------------------

TOKEN_COLUMNS = ["ID", "NAME", "PREFIX", "STATE", "CREATED", "EXPIRES", "LAST USED", "CREATED BY"]


def token_row(t: dict[str, Any]) -> list[Any]:
    return [t["id"], t["name"], t["prefix"] + "…", t["state"], t["createTime"], t["expiresAt"], t["lastUsedAt"],
            t["createdByName"]]


def token_owner(session: Session, args: argparse.Namespace) -> int:
    """``--user ID`` (needs user:manage over them), else the user the session belongs to."""
    return args.user or session.call("GET", "auth/userinfo")["id"]


def cmd_tokens_list(args: argparse.Namespace, store: Store) -> int:
    session = Session(store)
    path = f"users/{token_owner(session, args)}/tokens"
    data = all_pages(session, path, {}) if args.all else \
        session.call("GET", path, params={"page": args.page, "size": args.size})
    emit(args, data, lambda d: output.table(TOKEN_COLUMNS, [token_row(t) for t in d["list"]]) + "\n" + page_footer(d))
    return 0


def cmd_tokens_create(args: argparse.Namespace, store: Store) -> int:
    session = Session(store)
    body: dict[str, Any] = {"name": args.name}
    if args.expires_in_days is not None:
        body["expiresInDays"] = args.expires_in_days
    data = session.call("POST", f"users/{token_owner(session, args)}/tokens", json_body=body)
    if args.json:
        emit(args, data, str)
        return 0
    # The secret alone on stdout (TOKEN=$(djsctl tokens create NAME)); what it is on stderr.
    expires = f"expires {output.cell(data['expiresAt'])}" if data["expiresAt"] else "never expires"
    print(f"created API token {data['id']} {data['name']!r} ({data['prefix']}…, user {data['userId']}, {expires}); "
          "it is shown this once: store it now, e.g. as DJS_TOKEN", file=sys.stderr)
    print(data["token"])
    return 0


def cmd_tokens_revoke(args: argparse.Namespace, store: Store) -> int:
    session = Session(store)
    data = session.call("DELETE", f"users/{token_owner(session, args)}/tokens/{args.id}")
    emit(args, data, lambda d: f"API token {d['id']} {d['name']!r} ({d['prefix']}…) revoked; its next use answers 4010")
    return 0


# --- the parser -------------------------------------------------------------------------------------

def positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more: {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="print the answer's data as JSON (errors: the envelope, on stderr)")
    # its own --json action: set_defaults on a parser built from `common` would change the shared one's default
    parser = argparse.ArgumentParser(prog="djsctl", description="Command-line client of the DJS REST API.")
    parser.add_argument("--json", action="store_true", help="print the answer's data as JSON")
    groups = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def sub(group, name: str, func, help_text: str):
        p = group.add_parser(name, parents=[common], help=help_text, description=help_text)
        p.set_defaults(func=func)
        return p

    login = sub(groups, "login", cmd_login, "log in and store the token (0600) in the user's config directory")
    login.add_argument("--server", help=f"API base URL (default: the last one, else {DEFAULT_SERVER})")
    login.add_argument("--username", "-u")
    login.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    sub(groups, "logout", cmd_logout, "revoke the session's tokens and forget them")
    sub(groups, "whoami", cmd_whoami, "the logged-in user, department and permissions")

    tasks = groups.add_parser("tasks", help="list, show, create, apply, enable, disable, run, kill, delete tasks")
    task_cmds = tasks.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = sub(task_cmds, "list", cmd_tasks_list, "list tasks in your scope")
    p.add_argument("--keyword", "-k")
    p.add_argument("--department", type=positive, help="department id")
    p.add_argument("--type", type=str.upper, choices=TASK_TYPES)
    p.add_argument("--status", type=int, choices=(0, 1, 2), help="0 disabled, 1 enabled, 2 one-shot")
    pages(p)
    p = sub(task_cmds, "get", cmd_tasks_get, "show one task")
    p.add_argument("id", type=positive)
    p = sub(task_cmds, "create", cmd_tasks_create, "create a task from a YAML/JSON file (one task: type + the "
                                                   "fields of POST /tasks/http|grpc|shell)")
    p.add_argument("--file", "-f", required=True, help="file, or - for standard input")
    p = sub(task_cmds, "apply", cmd_tasks_apply, "declarative tasks: create/update the tasks a YAML file lists")
    p.add_argument("file", help="YAML/JSON file (docs/djsctl.md), or - for standard input")
    p.add_argument("--dry-run", action="store_true", help="report what would change, change nothing")
    p.add_argument("--prune", action="store_true", help="delete tasks of the file's departments it does not list")
    for name, status, word in (("enable", 1, "enabled"), ("disable", 0, "disabled")):
        p = sub(task_cmds, name, set_status(status, word), f"{name} a task")
        p.add_argument("id", type=positive)
    p = sub(task_cmds, "trigger", cmd_tasks_trigger, "run a task now (optionally with one-off overrides)")
    p.add_argument("id", type=positive)
    p.add_argument("--body", help="HTTP body for this run")
    p.add_argument("--headers", help="HTTP headers for this run, a JSON object")
    p.add_argument("--grpc-params", help="gRPC request for this run, a JSON object")
    waiting(p)
    p = sub(task_cmds, "kill", cmd_tasks_kill, "stop every running execution of a task")
    p.add_argument("id", type=positive)
    p = sub(task_cmds, "delete", cmd_tasks_delete, "delete a task (its records stay)")
    p.add_argument("id", type=positive)

    triggers = groups.add_parser("triggers", help="run-now requests and the records they became")
    trigger_cmds = triggers.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = sub(trigger_cmds, "get", cmd_triggers_get, "show a trigger request (`tasks trigger` prints its id) and "
                                                   "the record it became")
    p.add_argument("id", type=positive)
    waiting(p)

    records = groups.add_parser("records", help="execution records and statistics (one month at a time)")
    record_cmds = records.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = sub(record_cmds, "list", cmd_records_list, "list execution records of a month (default: this month, UTC)")
    month(p)
    p.add_argument("--task", type=positive, help="task id")
    p.add_argument("--department", type=positive, help="department id")
    p.add_argument("--status", choices=[str(k) for k in output.RECORD_STATUS],
                   help="0 running, 1 success, 2 failed, 3 killed, 4 skipped, 5 lost")
    p.add_argument("--success", choices=("yes", "no"))
    p.add_argument("--trigger", type=str.upper, choices=("SCHEDULE", "MANUAL", "RETRY", "RECOVERY", "CHILD"))
    p.add_argument("--type", type=str.upper, choices=TASK_TYPES)
    pages(p)
    p = sub(record_cmds, "get", cmd_records_get, "show one record (response and error in full)")
    p.add_argument("id", type=positive)
    month(p)
    p = sub(record_cmds, "stats", cmd_records_stats, "totals, success rate, cost and the most failing tasks")
    month(p)
    p.add_argument("--task", type=positive, help="task id")
    p.add_argument("--department", type=positive, help="department id")

    sub(groups, "nodes", cmd_nodes, "scheduler nodes and their heartbeats")
    executor_commands.add_commands(groups, sub, positive)  # the executor registry (issue 19)

    api_tokens = groups.add_parser("tokens", help="your personal API tokens (for DJS_TOKEN): list, create, revoke")
    token_cmds = api_tokens.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = sub(token_cmds, "list", cmd_tokens_list, "list API tokens (never their secrets)")
    p.add_argument("--user", type=positive, help="another user's id (needs user:manage over them)")
    pages(p)
    p = sub(token_cmds, "create", cmd_tokens_create, "create an API token; prints its secret, once")
    p.add_argument("name", help="what the token is for (1-100 characters)")
    p.add_argument("--expires-in-days", type=positive, help="days until it expires (default: never; at most 3650)")
    p.add_argument("--user", type=positive, help="another user's id (needs user:manage over them)")
    p = sub(token_cmds, "revoke", cmd_tokens_revoke, "revoke an API token (its next use answers 4010)")
    p.add_argument("id", type=positive)
    p.add_argument("--user", type=positive, help="another user's id (needs user:manage over them)")
    return parser


def pages(p: argparse.ArgumentParser) -> None:
    p.add_argument("--page", type=positive, default=1)
    p.add_argument("--size", type=positive, default=20, help="rows per page (at most 100)")
    p.add_argument("--all", action="store_true", help="fetch every page")


def month(p: argparse.ArgumentParser) -> None:
    p.add_argument("--year", type=positive)
    p.add_argument("--month", type=positive, help="1-12")


#: Longest --timeout: a day, the longest task timeout.
MAX_WAIT = 86400


def wait_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < value <= MAX_WAIT:
        raise argparse.ArgumentTypeError(f"must be more than 0 and at most {MAX_WAIT} seconds: {text}")
    return value


def waiting(p: argparse.ArgumentParser) -> None:
    p.add_argument("--wait", action="store_true",
                   help="wait for the run to end and print its record (exit 0 only when it succeeded)")
    p.add_argument("--timeout", type=wait_seconds, default=300.0, metavar="SECONDS",
                   help=f"with --wait: give up after this long, exit 124 (default 300, at most {MAX_WAIT}); "
                        "the run itself goes on")


def run(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args, Store())
    except CliError as exc:
        if args.json:
            envelope = {"code": exc.code, "message": exc.message, "data": exc.data}
            print(json.dumps(envelope, indent=2, ensure_ascii=False), file=sys.stderr)
        elif exc.code is not None:
            print(output.error_lines(exc.code, exc.message, exc.data), file=sys.stderr)
        else:
            print(f"error: {exc.message}", file=sys.stderr)
        return exc.status
    except EOFError:
        print("error: standard input ended while a value was expected", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


#: Exit status when the reader of the output went away: 128 + SIGPIPE, what a shell shows for a tool SIGPIPE killed.
BROKEN_PIPE_STATUS = 141


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command. ``djsctl ... | head``: once ``head`` has exited, writes to stdout fail with EPIPE; djsctl
    then stops quietly (status 141) instead of printing a BrokenPipeError traceback. SIGPIPE itself stays
    ignored (Python's default), so a server closing the HTTP connection is still an error djsctl reports."""
    try:
        try:
            return run(argv)
        finally:
            sys.stdout.flush()  # inside the try: a failed flush at interpreter exit would print "Exception ignored"
    except BrokenPipeError:
        # Python flushes stdout again at exit; point the descriptors at /dev/null so nothing more is tried.
        devnull = os.open(os.devnull, os.O_WRONLY)
        for stream in (sys.stdout, sys.stderr):
            try:
                os.dup2(devnull, stream.fileno())
            except (OSError, ValueError):
                pass
        return BROKEN_PIPE_STATUS


if __name__ == "__main__":
    sys.exit(main())
