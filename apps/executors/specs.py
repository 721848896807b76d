"""Typed inputs of the registry's services, and the rules of a name and an address (docs/executors.md).

Every way in (REST body, gRPC message, djsctl) builds one of these from untyped values with ``from_values``;
problems of all fields are raised together as one 4001 keyed by the spec's field names (``ttl_seconds``), which
each caller renames to its own wire names (``ttlSeconds``).

* ``name``: 1-128 of ``A-Z a-z 0-9 _ . -``: a gRPC service name (``orders.Billing``) or an HTTP service name
  (``billing-http``). Anything with an address form mixed in (``:``, ``/``, a scheme) is refused: the address
  has its own field.
* ``address``: for ``grpc`` ``host:port``; for ``http`` an ``http(s)://host[:port][/base/path]`` base URL (no
  credentials, query or fragment; a trailing ``/`` is dropped); for either kind ``dns:///host:port``, every
  A/AAAA answer of ``host`` being one instance. ``host`` is a DNS name or an IP literal (IPv6 in brackets);
  names are stored lower case.
* The address must pass the egress policy (``security.egress``) when it is saved: :func:`egress_problem`
  resolves a name (every answer of a ``dns:///`` name) and checks each address, so a registration cannot point
  DJS at the cloud metadata service or a denied network; allow a service network with ``allowCidrs``.
"""
from __future__ import annotations

import asyncio
import ipaddress
import re
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext as _

from apps.executors.dns import PREFIX as DNS_PREFIX
from apps.executors.models import (
    DEFAULT_TTL,
    MAX_ADDRESS,
    MAX_NAME,
    MAX_TTL,
    MAX_WEIGHT,
    MIN_TTL,
    MIN_WEIGHT,
    ExecutorKind,
    ExecutorStatus,
)
from djs_platform import errors, inputs, validation
from djs_platform.egress import EgressDenied, EgressPolicy
from djs_platform.inputs import MISSING, Invalid, Missing, Problems

NAME = re.compile(r"[A-Za-z0-9_.-]{1,128}")
_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
_PORT = re.compile(r"[0-9]{1,5}")


def api_name(spec_field: str) -> str:
    """The REST name of a spec field (``ttl_seconds`` -> ``ttlSeconds``)."""
    first, *others = spec_field.split("_")
    return first + "".join(part.title() for part in others)


# --- names and addresses ---------------------------------------------------------------------------------

def name_problem(name: str) -> str | None:
    if NAME.fullmatch(name):
        return None
    if ":" in name or "/" in name:
        return _("a name, not an address: give the service name (such as orders.Billing) here and the address "
                 "in address")
    return _("must be 1-%(max)s letters, digits, '_', '.' or '-' (a service name such as orders.Billing)") % {
        "max": MAX_NAME}


def _host(text: str) -> str:
    """A host name (lower case) or an IP literal (IPv6 without brackets here); raises Invalid."""
    if not text:
        raise Invalid(_("the host is missing"))
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        pass
    host = text.lower().rstrip(".")
    if len(host) > 253 or not all(_LABEL.fullmatch(label) for label in host.split(".")):
        raise Invalid(_("%(host)r is not a host name or IP address") % {"host": text})
    if re.fullmatch(r"[0-9.]+|0x[0-9a-f.x]+", host):  # 127.1, 2130706433: not a canonical IP literal
        raise Invalid(_("%(host)r is not a canonical IP address") % {"host": text})
    return host


def _port(text: str) -> int:
    if not _PORT.fullmatch(text) or not 1 <= int(text) <= 65535:
        raise Invalid(_("the port must be a number from 1 to 65535"))
    return int(text)


def _host_port(text: str) -> tuple[str, int]:
    """``host:port`` / ``[v6]:port`` -> (host, port); raises Invalid."""
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or not rest.startswith(":"):
            raise Invalid(_("an IPv6 address is written [address]:port"))
        ip = _host(host)
        if ":" not in ip:
            raise Invalid(_("brackets are for IPv6 addresses only"))
        return ip, _port(rest[1:])
    host, sep, port = text.rpartition(":")
    if not sep:
        raise Invalid(_("must be host:port"))
    if ":" in host:
        raise Invalid(_("an IPv6 address is written [address]:port"))
    return _host(host), _port(port)


def _join(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


@dataclass(frozen=True)
class Target:
    """What an address points at: ``host`` and ``port`` to check, and the address as stored."""

    address: str
    host: str
    port: int
    dns: bool


def parse_address(kind: str, text: str) -> Target:
    """The address of an entry of ``kind`` in its stored form; raises Invalid with the rule it breaks."""
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in text):
        raise Invalid(_("white space or control characters in the address"))
    if text.startswith(DNS_PREFIX):
        host, port = _host_port(text[len(DNS_PREFIX):])
        return Target(DNS_PREFIX + _join(host, port), host, port, True)
    if "://" in text:
        if kind == ExecutorKind.GRPC:
            raise Invalid(_("a gRPC address is host:port (or dns:///host:port), without a scheme"))
        try:
            parts = urlsplit(text)
            port = parts.port
        except ValueError as exc:
            raise Invalid(_("not a valid URL: %(exc)s") % {"exc": exc}) from None
        if parts.scheme not in ("http", "https"):
            raise Invalid(_("an HTTP address is an http:// or https:// base URL (or dns:///host:port)"))
        if parts.username is not None or parts.password is not None:
            raise Invalid(_("credentials in the URL are not allowed"))
        if parts.query or parts.fragment or text.endswith(("?", "#")):
            raise Invalid(_("a base URL has no query or fragment: the task's executor:// URL gives them"))
        host = _host(parts.hostname or "")
        default = 443 if parts.scheme == "https" else 80
        netloc = f"[{host}]" if ":" in host else host
        if port is not None:
            netloc += f":{port}"
        path = parts.path.rstrip("/")
        return Target(f"{parts.scheme}://{netloc}{path}", host, port or default, False)
    if kind == ExecutorKind.HTTP:
        raise Invalid(_("an HTTP address is an http:// or https:// base URL (or dns:///host:port)"))
    if "/" in text:
        raise Invalid(_("a gRPC address is host:port: the service name goes in name"))
    host, port = _host_port(text)
    return Target(_join(host, port), host, port, False)


def egress_policy() -> EgressPolicy:
    """The platform's egress policy (``security.egress``), as the executors apply it."""
    return EgressPolicy.of(settings.DJS_EGRESS)


def _run(coro: Any) -> Any:
    """Run a coroutine to its end from synchronous code (a request or gRPC handler thread); from inside a running
    event loop, on a thread of its own."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def egress_problem(target: Target, policy: EgressPolicy | None = None) -> str | None:
    """Why the egress policy refuses ``target`` now (every address a name resolves to is judged), or None.
    A name that does not resolve is a problem too: there would be nothing to call."""
    policy = policy or egress_policy()
    try:
        _run(policy.resolve_checked(target.host, target.port))
    except EgressDenied as exc:
        return _("egress denied: %(reason)s (security.egress; allow the service network with allowCidrs)") % {
            "reason": exc.reason}
    except OSError as exc:
        return _("%(host)s does not resolve: %(error)s") % {"host": target.host,
                                                           "error": exc.strerror or exc}
    return None


# --- the specs -------------------------------------------------------------------------------------------

def _name(value: Any) -> str:
    text = inputs.text(value, max_length=10_000)
    problem = name_problem(text)
    if problem:
        raise Invalid(problem)
    return text


def _address_text(value: Any) -> str:
    return inputs.text(value, max_length=MAX_ADDRESS)


_CHECKS = {
    "department_id": lambda v: inputs.integer(v, min_value=1),
    "name": _name,
    "kind": lambda v: inputs.choice(v, ExecutorKind.values),
    "address": _address_text,
    "weight": lambda v: inputs.integer(v, min_value=MIN_WEIGHT, max_value=MAX_WEIGHT),
    "status": lambda v: inputs.choice(v, ExecutorStatus.values),
    "ttl_seconds": lambda v: inputs.integer(v, min_value=MIN_TTL, max_value=MAX_TTL),
}


def _check(cls: type, values: Mapping[str, Any], required: tuple[str, ...]) -> dict[str, Any]:
    own = tuple(f.name for f in fields(cls))
    unknown = inputs.unknown_fields(values, own)
    if unknown:
        raise errors.InvalidArgument(_("%(field)s: unknown field") % {"field": next(iter(unknown))}, fields=unknown)
    validation.check_value(dict(values))
    problems = Problems()
    out = {name: problems.check(name, values.get(name, MISSING), _CHECKS[name], required=name in required)
           for name in own}
    if isinstance(out.get("address"), str) and isinstance(out.get("kind"), str):
        try:
            out["address"] = parse_address(out["kind"], out["address"]).address
        except Invalid as exc:
            problems.add("address", *exc.messages)
            out["address"] = MISSING
    problems.raise_if_any()
    return out


@dataclass(frozen=True)
class Registration:
    """``POST /executors/register``: a target says it is alive at ``address`` (the call is its heartbeat).
    ``department_id`` MISSING: the caller's department."""

    name: str
    kind: str
    address: str
    ttl_seconds: int = DEFAULT_TTL
    weight: int | Missing = MISSING  # MISSING: 1 for a new entry, unchanged for an existing one
    department_id: int | Missing = MISSING

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> Registration:
        out = _check(cls, values, ("name", "kind", "address"))
        if out["ttl_seconds"] is MISSING:
            out["ttl_seconds"] = DEFAULT_TTL
        return cls(**out)

    def checked(self) -> Registration:
        return Registration.from_values({f.name: getattr(self, f.name) for f in fields(self)
                                         if getattr(self, f.name) is not MISSING})


@dataclass(frozen=True)
class Deregistration:
    """``POST /executors/deregister``: the entry registered with these values is removed (idempotent)."""

    name: str
    kind: str
    address: str
    department_id: int | Missing = MISSING

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> Deregistration:
        return cls(**_check(cls, values, ("name", "kind", "address")))

    def checked(self) -> Deregistration:
        return Deregistration.from_values({f.name: getattr(self, f.name) for f in fields(self)
                                           if getattr(self, f.name) is not MISSING})


@dataclass(frozen=True)
class EntrySpec:
    """An operator's static (``host:port``, base URL) or DNS (``dns:///``) entry. A create needs ``name``,
    ``kind``, ``address`` and ``department_id``; an update sets the fields it gives (an entry does not move to
    another department: delete it and create it there)."""

    department_id: int | Missing = MISSING
    name: str | Missing = MISSING
    kind: str | Missing = MISSING
    address: str | Missing = MISSING
    weight: int | Missing = MISSING
    status: str | Missing = MISSING

    @classmethod
    def from_values(cls, values: Mapping[str, Any], *, create: bool) -> EntrySpec:
        if not create and "department_id" in values:
            raise errors.invalid("department_id", _("an entry does not move: delete it and create it in the other "
                                                    "department"))
        out = _check(cls, values, ("name", "kind", "address", "department_id") if create else ())
        return cls(**out)

    def values(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not MISSING}


def is_dns(address: str) -> bool:
    return address.startswith(DNS_PREFIX)
