"""``djsctl executors``: the executor registry from the command line (docs/executors.md).

    djsctl executors register --name orders.Billing --kind grpc --address 10.0.0.5:50051 [--ttl 30] [--weight N]
                              [--department ID] [--every 10s]
    djsctl executors deregister --name orders.Billing --kind grpc --address 10.0.0.5:50051 [--department ID]
    djsctl executors list [--name PART] [--kind grpc|http] [--department ID]

``register --every 10s`` is a sidecar loop for any service's start script: it registers, repeats the call as the
heartbeat every interval, and on SIGTERM or SIGINT deregisters and exits 0. A failed heartbeat is reported on
stderr and retried at the next tick (the entry stays live for its TTL meanwhile); the loop gives up only on
answers that cannot get better by retrying (4001 bad input, 4003 forbidden, 4009 an operator's entry, 4010
a refused token).
"""
from __future__ import annotations

import argparse
import re
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

from djs_platform.cli import output
from djs_platform.cli.client import CliError, Session, Store

KINDS = ("grpc", "http")
#: Answers a heartbeat loop stops on: retrying cannot change them (bad input, a refused or revoked token, no
#: permission, an operator's entry).
FATAL_CODES = frozenset({4001, 4003, 4009, 4010})
COLUMNS = ["ID", "NAME", "KIND", "ADDRESS", "DEPARTMENT", "SOURCE", "STATUS", "LIVE", "WEIGHT", "TTL S",
           "LAST HEARTBEAT", "INSTANCES"]


def interval(text: str) -> float:
    """``10s``, ``1m``, ``1m30s`` or plain seconds (``10``): 1 s to 1 h."""
    match = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s?)?", text.strip())
    if not text.strip() or not match:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (e.g. 10s, 1m)")
    hours, minutes, seconds = match.groups()
    value = int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(seconds or 0)
    if not 1 <= value <= 3600:
        raise argparse.ArgumentTypeError(f"must be between 1s and 1h: {text}")
    return value


def identity(args: argparse.Namespace) -> dict[str, Any]:
    body: dict[str, Any] = {"name": args.name, "kind": args.kind, "address": args.address}
    if args.department is not None:
        body["departmentId"] = args.department
    return body


def row(e: dict[str, Any]) -> list[Any]:
    return [e["id"], e["name"], e["kind"], e["address"], e["departmentName"], e["source"], e["status"], e["live"],
            e["weight"], e["ttlSeconds"], e["lastHeartbeat"], ", ".join(e["instances"])]


def emit(args: argparse.Namespace, data: Any, text: Callable[[Any], str]) -> None:
    import json

    print(json.dumps(data, indent=2, ensure_ascii=False) if args.json else text(data))


def cmd_list(args: argparse.Namespace, store: Store) -> int:
    session = Session(store)
    params = {"name": args.name, "kind": args.kind, "departmentId": args.department}
    items: list[Any] = []
    page = 1
    while True:
        data = session.call("GET", "executors", params={**params, "page": page, "size": 100})
        items += data["list"]
        if not data["list"] or len(items) >= data["total"]:
            break
        page += 1
    emit(args, {"list": items, "total": len(items)},
         lambda d: output.table(COLUMNS, [row(e) for e in d["list"]]) + f"\n{d['total']} total")
    return 0


def cmd_deregister(args: argparse.Namespace, store: Store) -> int:
    data = Session(store).call("POST", "executors/deregister", json_body=identity(args))
    emit(args, data, lambda d: f"{args.kind} {args.name} at {args.address}: "
                               + ("deregistered" if d["removed"] else "was not registered"))
    return 0


def cmd_register(args: argparse.Namespace, store: Store) -> int:
    session = Session(store)
    body = identity(args)
    if args.ttl is not None:
        body["ttlSeconds"] = args.ttl
    if args.weight is not None:
        body["weight"] = args.weight
    if args.every is None:
        data = session.call("POST", "executors/register", json_body=body)
        emit(args, data, lambda d: f"registered {d['kind']} {d['name']} at {d['address']} (id {d['id']}, "
                                   f"department {d['departmentName']}, TTL {d['ttlSeconds']} s)")
        return 0
    return heartbeat_loop(args, session, body)


def heartbeat_loop(args: argparse.Namespace, session: Session, body: dict[str, Any]) -> int:
    """Register every ``args.every`` seconds until SIGTERM/SIGINT, then deregister. The interval should stay
    well inside the TTL (a third of it is a good choice): a warning says so when it does not."""
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda signum, frame: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        return _beat(args, session, body, stop)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _beat(args: argparse.Namespace, session: Session, body: dict[str, Any], stop: threading.Event) -> int:
    ttl = args.ttl or 30
    if args.every >= ttl:
        print(f"warning: --every {args.every:g}s is not shorter than the TTL ({ttl} s): the entry will expire "
              "between heartbeats", file=sys.stderr)
    registered = False
    while not stop.is_set():
        try:
            data = session.call("POST", "executors/register", json_body=body)
        except CliError as exc:
            print(output.error_lines(exc.code, exc.message, exc.data) if exc.code is not None
                  else f"error: {exc.message}", file=sys.stderr, flush=True)
            if exc.code in FATAL_CODES:
                break
        else:
            if not registered:
                print(f"registered {data['kind']} {data['name']} at {data['address']} (id {data['id']}, TTL "
                      f"{data['ttlSeconds']} s); heartbeat every {args.every:g} s, SIGTERM/SIGINT deregisters",
                      flush=True)
                registered = True
        stop.wait(args.every)
    if not stop.is_set():
        return 1
    try:
        data = session.call("POST", "executors/deregister", json_body=identity(args))
    except CliError as exc:
        print(f"error: deregistering failed: {exc.message} (the entry expires after its TTL)", file=sys.stderr)
        return 1
    print("deregistered" if data["removed"] else "was not registered", flush=True)
    return 0


def add_commands(groups: Any, sub: Callable[..., argparse.ArgumentParser], positive: Callable[[str], int]) -> None:
    """The ``executors`` command group of djsctl's parser."""
    group = groups.add_parser("executors", help="the executor registry: register (as a sidecar), deregister, list")
    cmds = group.add_subparsers(dest="action", required=True, metavar="ACTION")

    def target(p: argparse.ArgumentParser) -> None:
        p.add_argument("--name", required=True, help="service name, e.g. orders.Billing")
        p.add_argument("--kind", required=True, choices=KINDS)
        p.add_argument("--address", required=True,
                       help="grpc: host:port; http: http(s):// base URL; either: dns:///host:port")
        p.add_argument("--department", type=positive, help="department id (default: yours)")

    p = sub(cmds, "register", cmd_register, "register an executor once, or --every N as a heartbeat loop that "
                                           "deregisters on SIGTERM/SIGINT")
    target(p)
    p.add_argument("--ttl", type=positive, help="seconds the entry lives without a heartbeat (1-300, default 30)")
    p.add_argument("--weight", type=positive, help="1-100 (default 1)")
    p.add_argument("--every", type=interval, metavar="DURATION", help="repeat as a heartbeat, e.g. 10s")
    p = sub(cmds, "deregister", cmd_deregister, "remove a registration (idempotent)")
    target(p)
    p = sub(cmds, "list", cmd_list, "registry entries of your scope")
    p.add_argument("--name", help="a part of the name")
    p.add_argument("--kind", choices=KINDS)
    p.add_argument("--department", type=positive, help="department id")
