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
6. loopback, link-local, unspecified, multicast and reserved addresses are denied, and so is every
   other range of the IANA IPv4 and IPv6 special-purpose address registries that is not globally
   reachable (:data:`SPECIAL_PURPOSE`: documentation, benchmarking, IETF protocol assignments,
   translation prefixes for local use, SRv6 SIDs, discard-only, deprecated site-local, ...);
7. an address of one of this node's own network interfaces is denied (:class:`LocalAddresses`, read
   from the kernel every 60 s): a target "elsewhere" must not be the node itself;
8. private ranges (RFC 1918, CGNAT 100.64/10, IPv6 ULA fc00::/7) are denied unless
   ``allowPrivate`` is true;
9. an address Python's ``ipaddress`` does not call ``is_global`` is denied (an extra net: the
   table of rule 6 is the reference, since Python 3.11 calls ``64:ff9b:1::1``, ``3fff::1`` and
   ``5f00::1`` global);
10. anything else (a public address) is allowed.

A host is denied when *any* of its addresses is denied, so a name cannot smuggle a private address
in behind a public one. Every rule also judges the IPv4 address an IPv6 address embeds: IPv4-mapped
(``::ffff:a.b.c.d``), IPv4-compatible (``::a.b.c.d``), NAT64 (``64:ff9b::/96`` and the local-use
``64:ff9b:1::/48``), 6to4 (``2002::/16``) and both addresses of Teredo (``2001::/32``).

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
import logging
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Protocol

from django.utils.translation import gettext as _
from djs_platform.conf import EgressSettings

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
#: IANA special-purpose registries (IPv4: iana-ipv4-special-registry, IPv6: iana-ipv6-special-registry, as of
#: 2025), every entry not marked globally reachable, plus deprecated ranges. Denied unless allowCidrs opens them
#: (rule 6). Loopback, link-local, unspecified, multicast, 240/4, the private ranges and the translation
#: prefixes that embed a public IPv4 address (64:ff9b::/96, 2002::/16, ::ffff:0:0/96) are judged elsewhere.
SPECIAL_PURPOSE: tuple[tuple[str, IPNetwork], ...] = tuple(
    (label, ipaddress.ip_network(net)) for net, label in (
        ("192.0.0.0/24", "IETF protocol assignments (RFC 6890)"),
        ("192.0.2.0/24", "documentation TEST-NET-1 (RFC 5737)"),
        ("192.88.99.0/24", "deprecated 6to4 relay anycast (RFC 7526)"),
        ("198.18.0.0/15", "benchmarking (RFC 2544)"),
        ("198.51.100.0/24", "documentation TEST-NET-2 (RFC 5737)"),
        ("203.0.113.0/24", "documentation TEST-NET-3 (RFC 5737)"),
        ("255.255.255.255/32", "limited broadcast (RFC 919)"),
        ("::/96", "deprecated IPv4-compatible (RFC 4291)"),
        ("64:ff9b:1::/48", "local-use IPv4/IPv6 translation (RFC 8215)"),
        ("100::/64", "discard-only (RFC 6666)"),
        ("100:0:0:1::/64", "dummy IPv6 prefix (RFC 9780)"),
        ("2001::/23", "IETF protocol assignments (RFC 2928)"),
        ("2001:db8::/32", "documentation (RFC 3849)"),
        ("3fff::/20", "documentation (RFC 9637)"),
        ("5f00::/16", "segment routing SIDs (RFC 9602)"),
        ("fec0::/10", "deprecated site-local (RFC 3879)"),
    )
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
_LEGACY_IPV4 = re.compile(r"^(0x[0-9a-f]*|\d+)(\.(0x[0-9a-f]*|\d+)){0,3}$")


class EgressDenied(Exception):
    """An outbound call was refused by the egress policy; ``reason`` says which rule."""

    def __init__(self, reason: str):
        super().__init__(_("egress denied: %(reason)s") % {"reason": reason})
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


def _embedded_ipv4(addr: IPAddress) -> list[ipaddress.IPv4Address]:
    """Every IPv4 address an IPv6 address carries: mapped, IPv4-compatible, NAT64 (well-known and local-use
    prefix, last 32 bits as RFC 6052 places them for a /96 and a /48), 6to4, Teredo (server and client)."""
    if isinstance(addr, ipaddress.IPv4Address):
        return []
    found: list[ipaddress.IPv4Address] = []
    if addr.ipv4_mapped is not None:
        found.append(addr.ipv4_mapped)
    if addr.sixtofour is not None:
        found.append(addr.sixtofour)
    if addr.teredo is not None:
        found.extend(addr.teredo)
    if addr in _NAT64 or (addr in _IPV4_COMPATIBLE and int(addr) > 0xFFFF):
        found.append(ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF))
    if addr in _NAT64_LOCAL:  # /48: bits 48..63 and 72..87 (RFC 6052 section 2.2), and the /96 form
        raw = int(addr).to_bytes(16, "big")
        found.append(ipaddress.IPv4Address(raw[6:8] + raw[9:11]))
        found.append(ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF))
    return found


# --- the node's own addresses ----------------------------------------------------------------------

log = logging.getLogger("djs.egress")


def read_interface_addresses() -> frozenset[IPAddress]:
    """Every address of this host's network interfaces (this network namespace), from the kernel: IPv4 from
    ``/proc/net/fib_trie`` (the ``/32 host LOCAL`` entries), IPv6 from ``/proc/net/if_inet6``. No extra
    dependency and no subprocess; where ``/proc`` is missing (not Linux) the host name's own addresses."""
    found: set[IPAddress] = set()
    try:
        with open("/proc/net/fib_trie", encoding="ascii", errors="replace") as handle:
            last = None
            for line in handle:
                text = line.strip()
                if text.startswith("|--"):
                    last = text[3:].strip()
                elif last and text.startswith("/32") and "host LOCAL" in text:
                    ip = parse_ip(last)
                    if ip is not None:
                        found.add(ip)
    except OSError:
        pass
    try:
        with open("/proc/net/if_inet6", encoding="ascii", errors="replace") as handle:
            for line in handle:
                hexa = line.split(" ", 1)[0].strip()
                if len(hexa) == 32:
                    found.add(ipaddress.IPv6Address(int(hexa, 16)))
    except OSError:
        pass
    if not found:
        try:
            for info in socket.getaddrinfo(socket.gethostname(), None, proto=socket.IPPROTO_TCP):
                ip = parse_ip(str(info[4][0]))
                if ip is not None:
                    found.add(ip)
        except OSError:
            pass
    return frozenset(found)


class LocalAddresses:
    """The node's own interface addresses, re-read at most every ``ttl`` seconds (addresses come and go:
    DHCP, containers, VPNs). Thread-safe; a failed read keeps the previous set."""

    def __init__(self, reader: Callable[[], Iterable[IPAddress]] = read_interface_addresses, ttl: float = 60.0,
                 clock: Callable[[], float] = time.monotonic):
        self.reader, self.ttl, self.clock = reader, ttl, clock
        self._addresses: frozenset[IPAddress] = frozenset()
        self._read_at: float | None = None
        self._lock = threading.Lock()

    def current(self) -> frozenset[IPAddress]:
        now = self.clock()
        if self._read_at is None or now - self._read_at >= self.ttl:
            with self._lock:
                if self._read_at is None or now - self._read_at >= self.ttl:
                    try:
                        self._addresses = frozenset(self.reader())
                    except Exception:  # keep denying what we knew
                        log.exception("could not read this node's interface addresses; keeping the last set")
                    self._read_at = now
        return self._addresses

    def __contains__(self, addr: IPAddress) -> bool:
        return addr in self.current()


#: Shared by every policy of the process (one read per minute, whatever the number of policies).
NODE_ADDRESSES = LocalAddresses()


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
        local_addresses: LocalAddresses | None = NODE_ADDRESSES,
    ):
        self.allow_cidrs = tuple(_network(c, "allowCidrs") for c in allow_cidrs)
        self.deny_cidrs = tuple(_network(c, "denyCidrs") for c in deny_cidrs)
        self.allow_hosts = tuple(normalize_host(h) for h in allow_hosts if str(h).strip())
        self.deny_hosts = tuple(normalize_host(h) for h in deny_hosts if str(h).strip())
        self.deny_private_by_default = deny_private_by_default
        self.resolver: Resolver = resolver or SystemResolver()
        #: the node's own interface addresses (rule 7); None turns the rule off (tests of other rules only)
        self.local_addresses = local_addresses

    @classmethod
    def of(cls, egress: EgressSettings, resolver: Resolver | None = None) -> EgressPolicy:
        """The policy of ``security.egress`` (``settings.DJS_EGRESS``, checked by
        :meth:`djs_platform.conf.EgressSettings.from_config`: a typo cannot silently open or close
        anything)."""
        return cls(allow_cidrs=egress.allow_cidrs, deny_cidrs=egress.deny_cidrs,
                   allow_hosts=egress.allow_hosts, deny_hosts=egress.deny_hosts,
                   deny_private_by_default=not egress.allow_private, resolver=resolver)

    # --- checks ------------------------------------------------------------------------------

    def check_host(self, host: str) -> None:
        """Name-only rules (1 and the metadata names of 4); raises :class:`EgressDenied`."""
        name = normalize_host(host)
        if _host_matches(name, self.deny_hosts):
            raise EgressDenied(_("host %(name)s is in denyHosts") % {"name": name})
        if name in METADATA_HOSTS:
            raise EgressDenied(_("host %(name)s is a cloud metadata endpoint") % {"name": name})
        if _LEGACY_IPV4.match(name) and parse_ip(name) is None:
            # 127.1, 2130706433, 0x7f000001: getaddrinfo maps them onto an address, rules must not guess
            raise EgressDenied(_("%(name)s is not a canonical IP address") % {"name": name})

    def check_address(self, address: str | IPAddress, host: str | None = None) -> None:
        """Address rules 2-10 for one resolved address of ``host``; raises :class:`EgressDenied`."""
        addr = address if not isinstance(address, str) else parse_ip(address)
        if addr is None:
            raise EgressDenied(_("%(address)r is not an IP address") % {"address": address})
        if addr.version == 6 and addr.scope_id:
            addr = ipaddress.IPv6Address(str(addr).split("%", 1)[0])
        embedded = _embedded_ipv4(addr)
        candidates: list[IPAddress] = [addr, *embedded]
        label = f"{addr}" if not host or parse_ip(host) is not None else f"{normalize_host(host)} -> {addr}"

        for a in candidates:
            if any(a in net for net in self.deny_cidrs if net.version == a.version):
                raise EgressDenied(_("%(label)s is in denyCidrs") % {"label": label})
        if any(a in net for a in candidates for net in self.allow_cidrs if net.version == a.version):
            return
        if any(a in METADATA_ADDRESSES for a in candidates):
            raise EgressDenied(_("%(label)s is a cloud metadata address") % {"label": label})
        if host and parse_ip(host) is None and _host_matches(normalize_host(host), self.allow_hosts):
            return
        for a in candidates:  # the address itself first, then what it embeds
            for kind, net in _LOCAL_NETWORKS:
                if net.version == a.version and a in net:
                    raise EgressDenied(_("%(label)s is a %(kind)s address (not in allowCidrs)")
                                       % {"label": label, "kind": kind})
            for kind, net in SPECIAL_PURPOSE:
                if net.version == a.version and a in net:
                    raise EgressDenied(_("%(label)s is a special-purpose address: %(kind)s (not in allowCidrs)")
                                       % {"label": label, "kind": kind})
        own = self.local_addresses.current() if self.local_addresses is not None else frozenset()
        for a in candidates:
            if a in own:
                raise EgressDenied(_("%(label)s is an address of this node (not in allowCidrs)") % {"label": label})
        private = [a for a in candidates if any(net.version == a.version and a in net for net in _PRIVATE_NETWORKS)]
        if private and self.deny_private_by_default:
            raise EgressDenied(_("%(label)s is a private address (allowPrivate is off)") % {"label": label})
        # Extra net: Python's view of "globally reachable", judged on the IPv4 address a translation
        # address carries (its IPv6 wrapper is global by design), private ranges left to allowPrivate.
        for a in embedded or [addr]:
            if a not in private and not a.is_global:
                raise EgressDenied(_("%(label)s is not a globally reachable address (not in allowCidrs)")
                                   % {"label": label})

    def check_saved_host(self, host: str) -> None:
        """The rules a target can be judged by when a task (or an alert webhook) is saved, without resolving
        anything: the name rules of :meth:`check_host` (denyHosts, metadata names, odd IPv4 spellings) and, for
        an IP literal, denyCidrs and the metadata addresses unless allowCidrs opens them. Everything else
        (loopback, private and special ranges, the node's own addresses, what a name resolves to) depends on
        the node and the moment, and is decided at each call, which stays authoritative. Raises
        :class:`EgressDenied`."""
        self.check_host(host)
        literal = parse_ip(host)
        if literal is None:
            return
        candidates: list[IPAddress] = [literal, *_embedded_ipv4(literal)]
        for a in candidates:
            if any(a in net for net in self.deny_cidrs if net.version == a.version):
                raise EgressDenied(_("%(literal)s is in denyCidrs") % {"literal": literal})
        if any(a in net for a in candidates for net in self.allow_cidrs if net.version == a.version):
            return
        if any(a in METADATA_ADDRESSES for a in candidates):
            raise EgressDenied(_("%(literal)s is a cloud metadata address") % {"literal": literal})

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
