"""Egress policy for outbound calls of HTTP and gRPC tasks (DESIGN.md section 10).

A task's URL is chosen by whoever may create tasks, so without a policy the scheduler is a
server-side request forgery gadget: it would happily call the cloud metadata service, the database
port on localhost or any machine of the private network. Every outbound connection therefore passes
:class:`EgressPolicy`, which looks at the host name *and at every address it resolves to*:

1. a host listed in ``denyHosts`` is denied (deny wins over every allow);
2. an address inside ``denyCidrs`` is denied (explicit deny wins over every allow);
3. an address inside ``allowCidrs`` is allowed;
4. cloud metadata addresses (169.254.169.254, fd00:ec2::254, 100.100.100.200, and the names
   ``metadata.google.internal`` / ``metadata.goog``) are denied unless rule 3 allowed the address;
5. a host listed in ``allowHosts`` is allowed, whatever private address it resolves to;
6. loopback, link-local, unspecified, multicast and reserved addresses are denied;
7. private ranges (RFC 1918, CGNAT 100.64/10, IPv6 ULA fc00::/7) are denied unless
   ``allowPrivate`` is true;
8. anything else (a public address) is allowed.

A host is denied when *any* of its addresses is denied, so a name cannot smuggle a private address
in behind a public one. IPv4-mapped (``::ffff:a.b.c.d``), NAT64 (``64:ff9b::/96``) and 6to4
(``2002::/16``) IPv6 addresses are judged by the IPv4 address they embed.

Name resolution goes through one :class:`Resolver` object. Callers connect to the addresses the
policy returned (the HTTP transport does it inside its connector, the gRPC executor dials the checked
IP), so DNS cannot answer differently between the check and the connection. Tests replace the
resolver with :class:`StaticResolver` to fake an answer; that is the only fake the test suite uses.

Configuration (``security.egress`` in config.yaml)::

    security:
      egress:
        allowCidrs: [127.0.0.0/8, ::1/128]   # the embedded dev profile and the tests
        denyCidrs: []
        allowHosts: []                      # exact names or "*.example.com" suffix patterns
        denyHosts: []
        allowPrivate: false
"""
from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)
METADATA_HOSTS: frozenset[str] = frozenset({"metadata.google.internal", "metadata.goog"})

# Always denied unless allowCidrs opens them (rule 6).
_LOCAL_NETWORKS: tuple[tuple[str, IPNetwork], ...] = tuple(
    (label, ipaddress.ip_network(net)) for label, net in (
        ("loopback", "127.0.0.0/8"), ("loopback", "::1/128"),
        ("link-local", "169.254.0.0/16"), ("link-local", "fe80::/10"),
        ("unspecified", "0.0.0.0/8"), ("unspecified", "::/128"),
        ("multicast", "224.0.0.0/4"), ("multicast", "ff00::/8"),
        ("reserved", "240.0.0.0/4"),
    )
)
# Denied unless allowPrivate (rule 7).
_PRIVATE_NETWORKS: tuple[IPNetwork, ...] = tuple(
    ipaddress.ip_network(net) for net in (
        "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7",
    )
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_LEGACY_IPV4 = re.compile(r"^(0x[0-9a-f]*|\d+)(\.(0x[0-9a-f]*|\d+)){0,3}$")


class EgressDenied(Exception):
    """An outbound call was refused by the egress policy; ``reason`` says which rule."""

    def __init__(self, reason: str):
        super().__init__(f"egress denied: {reason}")
        self.reason = reason


class Resolver(Protocol):
    """Turns a host name into IP address strings. The one place DNS is asked."""

    async def resolve(self, host: str, port: int) -> list[str]: ...


class SystemResolver:
    """The operating system's resolver (``getaddrinfo``), run off the event loop."""

    async def resolve(self, host: str, port: int) -> list[str]:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        addresses: list[str] = []
        for _family, _type, _proto, _canon, sockaddr in infos:
            if sockaddr[0] not in addresses:
                addresses.append(sockaddr[0])
        return addresses


class StaticResolver:
    """Answers from a fixed table and hands other names to ``fallback``.

    The test suite uses it to fake a DNS answer (``evil.example`` -> ``10.0.0.5``); it can also pin
    a name to addresses in a deployment. A name neither in the table nor resolvable fails like DNS
    does (``socket.gaierror``).
    """

    def __init__(self, answers: Mapping[str, Sequence[str]], fallback: Resolver | None = None):
        self.answers = {normalize_host(k): list(v) for k, v in answers.items()}
        self.fallback = fallback
        self.queries: list[str] = []

    async def resolve(self, host: str, port: int) -> list[str]:
        name = normalize_host(host)
        self.queries.append(name)
        if name in self.answers:
            return list(self.answers[name])
        if self.fallback is None:
            raise socket.gaierror(socket.EAI_NONAME, f"Name or service not known: {host}")
        return await self.fallback.resolve(host, port)


def normalize_host(host: str) -> str:
    """Lower case, no trailing dot, no IPv6 brackets: the form host rules compare."""
    host = host.strip().lower().rstrip(".")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host


def parse_ip(text: str) -> IPAddress | None:
    """An IP literal (canonical forms only, zone id dropped), or None for a host name."""
    text = normalize_host(text).split("%", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _embedded_ipv4(addr: IPAddress) -> ipaddress.IPv4Address | None:
    if isinstance(addr, ipaddress.IPv4Address):
        return None
    if addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    if addr.sixtofour is not None:
        return addr.sixtofour
    if addr in _NAT64:
        return ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
    return None


def _host_matches(host: str, patterns: Iterable[str]) -> bool:
    for pattern in patterns:
        if pattern.startswith("*."):
            if host.endswith(pattern[1:]) or host == pattern[2:]:
                return True
        elif host == pattern:
            return True
    return False


class EgressPolicy:
    """Decides whether an outbound connection to a host (and each of its addresses) may be made.

    Security-relevant: see the module docstring for the order of the rules. The policy never
    connects anywhere itself; :meth:`resolve_checked` returns the addresses the caller must dial.
    """

    def __init__(
        self,
        allow_cidrs: Iterable[str] = (),
        deny_cidrs: Iterable[str] = (),
        allow_hosts: Iterable[str] = (),
        deny_hosts: Iterable[str] = (),
        deny_private_by_default: bool = True,
        resolver: Resolver | None = None,
    ):
        self.allow_cidrs = tuple(_network(c, "allowCidrs") for c in allow_cidrs)
        self.deny_cidrs = tuple(_network(c, "denyCidrs") for c in deny_cidrs)
        self.allow_hosts = tuple(normalize_host(h) for h in allow_hosts if str(h).strip())
        self.deny_hosts = tuple(normalize_host(h) for h in deny_hosts if str(h).strip())
        self.deny_private_by_default = deny_private_by_default
        self.resolver: Resolver = resolver or SystemResolver()

    @classmethod
    def from_config(cls, mapping: Mapping[str, Any] | None, resolver: Resolver | None = None) -> "EgressPolicy":
        """Build from the ``security.egress`` section (``allowCidrs``, ``denyCidrs``, ``allowHosts``,
        ``denyHosts``, ``allowPrivate``). Missing keys take the secure defaults; a bad CIDR raises
        ``ValueError`` naming the key, so a typo cannot silently open or close anything."""
        mapping = dict(mapping or {})
        known = {"allowCidrs", "denyCidrs", "allowHosts", "denyHosts", "allowPrivate"}
        unknown = sorted(set(mapping) - known)
        if unknown:
            raise ValueError(f"security.egress: unknown key(s) {', '.join(unknown)}")

        def listed(key: str) -> list[str]:
            value = mapping.get(key) or []
            if isinstance(value, str):  # "a,b" from an environment variable
                value = [v for v in value.split(",") if v.strip()]
            if not isinstance(value, (list, tuple)):
                raise ValueError(f"security.egress.{key} must be a list")
            return [str(v).strip() for v in value]

        allow_private = mapping.get("allowPrivate", False)
        if not isinstance(allow_private, bool):
            raise ValueError("security.egress.allowPrivate must be true or false")
        return cls(
            allow_cidrs=listed("allowCidrs"), deny_cidrs=listed("denyCidrs"),
            allow_hosts=listed("allowHosts"), deny_hosts=listed("denyHosts"),
            deny_private_by_default=not allow_private, resolver=resolver,
        )

    # --- checks ------------------------------------------------------------------------------

    def check_host(self, host: str) -> None:
        """Name-only rules (1 and the metadata names of 4); raises :class:`EgressDenied`."""
        name = normalize_host(host)
        if _host_matches(name, self.deny_hosts):
            raise EgressDenied(f"host {name} is in denyHosts")
        if name in METADATA_HOSTS:
            raise EgressDenied(f"host {name} is a cloud metadata endpoint")
        if _LEGACY_IPV4.match(name) and parse_ip(name) is None:
            # 127.1, 2130706433, 0x7f000001: getaddrinfo maps them onto an address, rules must not guess
            raise EgressDenied(f"{name} is not a canonical IP address")

    def check_address(self, address: str | IPAddress, host: str | None = None) -> None:
        """Address rules 2-8 for one resolved address of ``host``; raises :class:`EgressDenied`."""
        addr = address if not isinstance(address, str) else parse_ip(address)
        if addr is None:
            raise EgressDenied(f"{address!r} is not an IP address")
        if addr.version == 6 and addr.scope_id:
            addr = ipaddress.IPv6Address(str(addr).split("%", 1)[0])
        candidates: list[IPAddress] = [addr]
        embedded = _embedded_ipv4(addr)
        if embedded is not None:
            candidates.append(embedded)
        label = f"{addr}" if not host or parse_ip(host) is not None else f"{normalize_host(host)} -> {addr}"

        for a in candidates:
            if any(a in net for net in self.deny_cidrs if net.version == a.version):
                raise EgressDenied(f"{label} is in denyCidrs")
        if any(a in net for a in candidates for net in self.allow_cidrs if net.version == a.version):
            return
        if any(a in METADATA_ADDRESSES for a in candidates):
            raise EgressDenied(f"{label} is a cloud metadata address")
        if host and parse_ip(host) is None and _host_matches(normalize_host(host), self.allow_hosts):
            return
        for a in candidates:
            for kind, net in _LOCAL_NETWORKS:
                if net.version == a.version and a in net:
                    raise EgressDenied(f"{label} is a {kind} address (not in allowCidrs)")
        if self.deny_private_by_default:
            for a in candidates:
                if any(net.version == a.version and a in net for net in _PRIVATE_NETWORKS):
                    raise EgressDenied(f"{label} is a private address (allowPrivate is off)")

    async def resolve_checked(self, host: str, port: int) -> list[str]:
        """Resolve ``host`` through the policy's resolver and check every address.

        Returns the addresses (strings, resolver order) that the caller must connect to. Raises
        :class:`EgressDenied` if the name or any address is denied, ``OSError`` if it does not
        resolve. An IP literal is checked as is, without asking DNS.
        """
        self.check_host(host)
        literal = parse_ip(host)
        if literal is not None:
            self.check_address(literal, host)
            return [str(literal)]
        addresses = await self.resolver.resolve(normalize_host(host), port)
        if not addresses:
            raise socket.gaierror(socket.EAI_NONAME, f"no address for {host}")
        for address in addresses:
            self.check_address(address, host)
        return list(addresses)


def _network(text: str, key: str) -> IPNetwork:
    try:
        return ipaddress.ip_network(str(text).strip(), strict=False)
    except ValueError as exc:
        raise ValueError(f"security.egress.{key}: {text!r} is not a CIDR ({exc})") from None
