"""The egress policy (DESIGN.md section 10): rules, configuration, and enforcement by the executors.

Only a DNS answer is faked (StaticResolver). Proof that nothing was dialled comes from real servers
that record zero hits and from OutboundGuard, which also refuses any non-loopback connection so a
broken policy fails the test instead of sending a packet off this machine.
"""
from __future__ import annotations

import asyncio

import pytest
from django.core.exceptions import ImproperlyConfigured

from apps.tasks.executors import ExecutionPlan, Executors, execute
from djs_platform.conf import EgressSettings
from djs_platform.config import load_config
from djs_platform.egress import EgressDenied, EgressPolicy, StaticResolver
from tests.targets import GrpcTarget, HttpTarget, OutboundGuard, Respond

LOOPBACK = ["127.0.0.0/8", "::1/128"]


def http_spec(url: str, **kw) -> ExecutionPlan:
    values = dict(task_id=7, task_type="HTTP", url=url, http_method="GET", headers={}, body=None,
                  fallback_url=None, grpc_service=None, grpc_method=None, grpc_params=None,
                  fallback_grpc_service=None, fallback_grpc_method=None, timeout=5, max_retry=0,
                  retry_interval=0, idempotency_key="djs-7-1700000000000")
    values.update(kw)
    return ExecutionPlan.of(**values)


def grpc_spec(service: str, **kw) -> ExecutionPlan:
    return http_spec(None, task_type="GRPC", grpc_service=service, grpc_method="Echo",
                     grpc_params='{"message": "hi"}', **kw)


def run(spec: ExecutionPlan, policy: EgressPolicy):
    async def main():
        async with Executors(http_workers=2, grpc_workers=2, egress=policy) as executors:
            return await execute(spec, executors)
    return asyncio.run(main())


def denied(address: str, policy: EgressPolicy, host: str | None = None) -> str | None:
    try:
        policy.check_address(address, host)
    except EgressDenied as exc:
        return exc.reason
    return None


@pytest.fixture(scope="module")
def grpc_target():
    with GrpcTarget() as target:
        yield target


# --- the rules ----------------------------------------------------------------------------------

@pytest.mark.parametrize("address, kind", [
    ("127.0.0.1", "loopback"), ("127.8.9.10", "loopback"), ("::1", "loopback"),
    ("::ffff:127.0.0.1", "loopback"), ("2002:7f00:1::", "loopback"),
    ("169.254.169.254", "metadata"), ("fd00:ec2::254", "metadata"), ("100.100.100.200", "metadata"),
    ("64:ff9b::a9fe:a9fe", "metadata"),
    ("169.254.1.1", "link-local"), ("fe80::1", "link-local"),
    ("10.0.0.5", "private"), ("172.16.3.4", "private"), ("192.168.1.1", "private"),
    ("100.64.0.1", "private"), ("fd12:3456::1", "private"),
    ("0.0.0.0", "unspecified"), ("::", "unspecified"), ("224.0.0.1", "multicast"),
])
def test_default_policy_denies_local_private_and_metadata_addresses(address, kind):
    reason = denied(address, EgressPolicy())
    assert reason is not None and kind in reason


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700::1111"])
def test_default_policy_allows_public_addresses(address):
    assert denied(address, EgressPolicy()) is None


def test_allow_cidrs_opens_loopback_but_nothing_else():
    policy = EgressPolicy(allow_cidrs=LOOPBACK)
    assert denied("127.0.0.1", policy) is None
    assert denied("::1", policy) is None
    assert "link-local" in denied("169.254.10.10", policy)
    assert "private" in denied("10.0.0.5", policy)


def test_allow_private_opens_private_ranges_but_not_loopback_or_metadata():
    policy = EgressPolicy(deny_private_by_default=False)
    assert denied("10.0.0.5", policy) is None
    assert denied("fd12::1", policy) is None
    assert "loopback" in denied("127.0.0.1", policy)
    assert "metadata" in denied("169.254.169.254", policy)


def test_metadata_needs_an_explicit_cidr_even_for_an_allowed_host():
    policy = EgressPolicy(allow_hosts=["metadata.corp.example"], allow_cidrs=["169.254.0.0/16"],
                          deny_cidrs=[])
    assert denied("169.254.169.254", policy, host="metadata.corp.example") is None  # the CIDR opened it
    policy = EgressPolicy(allow_hosts=["metadata.corp.example"])
    assert "metadata" in denied("169.254.169.254", policy, host="metadata.corp.example")


def test_allow_hosts_lets_a_named_host_reach_a_private_address():
    policy = EgressPolicy(allow_hosts=["*.internal.example"])
    assert denied("10.1.2.3", policy, host="billing.internal.example") is None
    assert "private" in denied("10.1.2.3", policy, host="billing.other.example")


def test_deny_wins_over_allow():
    policy = EgressPolicy(allow_cidrs=["10.0.0.0/8"], deny_cidrs=["10.9.0.0/16"],
                          allow_hosts=["api.example"], deny_hosts=["api.example"])
    assert denied("10.1.1.1", policy) is None
    assert "denyCidrs" in denied("10.9.1.1", policy)
    with pytest.raises(EgressDenied, match="denyHosts"):
        policy.check_host("API.Example.")


def test_metadata_host_names_are_denied_by_name():
    with pytest.raises(EgressDenied, match="metadata"):
        EgressPolicy(allow_cidrs=["0.0.0.0/0"]).check_host("metadata.google.internal")


def test_the_configuration_refuses_typos_instead_of_guessing(tmp_path):
    with pytest.raises(ImproperlyConfigured, match="allowCidrs"):
        EgressSettings.from_config(load_config(environ={"DJS_SECURITY_EGRESS_ALLOW_CIDRS": "[127.0.0.0/33]"}))
    with pytest.raises(ValueError, match="allowCidrs"):  # the policy itself refuses it too
        EgressPolicy(allow_cidrs=["127.0.0.0/33"])
    overlay = tmp_path / "c.yaml"
    overlay.write_text("security:\n  egress:\n    allowCIDRs: [127.0.0.0/8]\n")
    assert load_config(environ={"DJS_CONFIG": str(overlay)}).warnings == [
        f"{overlay}: unknown configuration key security.egress.allowCIDRs, ignored "
        "(did you mean security.egress.allowCidrs?)"]
    with pytest.raises(ImproperlyConfigured, match="allowPrivate"):
        EgressSettings.from_config(load_config(environ={"DJS_SECURITY_EGRESS_ALLOW_PRIVATE": "'yes'"}))
    defaults = EgressSettings.from_config(load_config(environ={}))
    assert EgressPolicy.of(defaults).deny_private_by_default is True
    assert defaults.allow_cidrs == ()  # the dev profile's loopback only with server.debug
    debug = EgressSettings.from_config(load_config(environ={"DJS_DEBUG": "true"}))
    assert debug.allow_cidrs == ("127.0.0.0/8", "::1/128")


def test_every_resolved_address_must_pass():
    resolver = StaticResolver({"mixed.example": ["127.0.0.1", "169.254.169.254"]})
    policy = EgressPolicy(allow_cidrs=LOOPBACK, resolver=resolver)
    with pytest.raises(EgressDenied, match="mixed.example -> 169.254.169.254 is a cloud metadata"):
        asyncio.run(policy.resolve_checked("mixed.example", 80))


# --- HTTP enforcement ----------------------------------------------------------------------------

@pytest.mark.parametrize("answer, kind", [("10.0.0.5", "private"), ("169.254.169.254", "metadata"),
                                          ("fd00:ec2::254", "metadata")])
def test_http_call_to_a_name_resolving_to_a_forbidden_address_is_never_dialled(answer, kind):
    resolver = StaticResolver({"evil.example": [answer]})
    policy = EgressPolicy(allow_cidrs=LOOPBACK, resolver=resolver)
    with OutboundGuard() as guard:
        outcome = run(http_spec("http://evil.example:8080/steal", max_retry=3, retry_interval=1), policy)
    assert not outcome.success
    assert "egress denied" in outcome.error and kind in outcome.error
    assert outcome.retry_times == 0  # a denial is final: no retry waits
    assert resolver.queries == ["evil.example"]
    assert guard.connects == []


def test_http_call_to_an_ip_literal_metadata_address_is_never_dialled():
    with OutboundGuard() as guard:
        outcome = run(http_spec("http://169.254.169.254/latest/meta-data/"), EgressPolicy(allow_cidrs=LOOPBACK))
    assert "egress denied" in outcome.error and "metadata" in outcome.error
    assert guard.connects == []


@pytest.mark.parametrize("url", ["http://127.1/", "http://2130706433/", "http://0x7f000001/",
                                 "http://[::ffff:127.0.0.1]/", "http://0.0.0.0/"])
def test_http_odd_spellings_of_local_addresses_are_denied(url):
    with OutboundGuard() as guard:
        outcome = run(http_spec(url), EgressPolicy())
    assert not outcome.success
    assert "egress denied" in outcome.error, outcome.error
    assert guard.connects == []


def test_http_executor_enforces_the_policy_on_names_and_literals(http_target):
    http_target.on("/egress/enforced", status=200)
    resolver = StaticResolver({"evil.example": ["10.0.0.5"], "sneaky.example": ["127.0.0.1"]})
    open_policy = EgressPolicy(allow_cidrs=["127.0.0.1/32"], resolver=resolver)
    with OutboundGuard() as guard:
        to_private = run(http_spec("http://evil.example/x"), open_policy)
        to_metadata = run(http_spec("http://169.254.169.254/"), open_policy)
        to_loopback = run(http_spec(f"http://sneaky.example:{http_target.port}/egress/enforced"),
                          EgressPolicy(resolver=resolver))
        allowed = run(http_spec(f"http://sneaky.example:{http_target.port}/egress/enforced"), open_policy)
    assert "private" in to_private.error and "metadata" in to_metadata.error and "loopback" in to_loopback.error
    assert allowed.success, allowed.error
    assert http_target.hits("/egress/enforced") == 1
    assert http_target.requests("/egress/enforced")[0].header("Host") == f"sneaky.example:{http_target.port}"
    assert guard.non_loopback == []


class FlippingResolver:
    """DNS rebinding: the first answer for a name is allowed, every later one points somewhere denied."""

    def __init__(self, first: str, then: str):
        self.first, self.then = first, then
        self.queries: list[str] = []

    async def resolve(self, host: str, port: int) -> list[str]:
        self.queries.append(host)
        return [self.first if len(self.queries) == 1 else self.then]


def test_http_every_new_connection_checks_a_fresh_dns_answer(http_target):
    """The address checked is the address dialled, and each new connection asks the policy again (aiohttp's
    DNS cache is off): a name that flips to a denied address after its first answer is refused, not dialled."""
    http_target.on("/egress/rebind", Respond(delay=0.5))  # keeps the first connection busy: the second is new
    resolver = FlippingResolver("127.0.0.1", "127.0.0.2")
    policy = EgressPolicy(allow_cidrs=["127.0.0.1/32"], resolver=resolver)
    url = f"http://rebind.example:{http_target.port}/egress/rebind"

    async def main():
        async with Executors(http_workers=2, grpc_workers=1, egress=policy) as executors:
            return await asyncio.gather(execute(http_spec(url), executors), execute(http_spec(url), executors))

    with OutboundGuard() as guard:
        outcomes = asyncio.run(main())
    assert resolver.queries == ["rebind.example", "rebind.example"]
    (allowed,) = [o for o in outcomes if o.success]
    (refused,) = [o for o in outcomes if not o.success]
    assert "rebind.example -> 127.0.0.2 is a loopback address" in refused.error, refused.error
    assert allowed.status_code == 200 and http_target.hits("/egress/rebind") == 1
    assert guard.non_loopback == []


def test_http_denied_loopback_target_receives_nothing(http_target):
    http_target.on("/egress/secret", status=200)
    resolver = StaticResolver({"sneaky.example": ["127.0.0.1"]})
    with OutboundGuard() as guard:
        outcome = run(http_spec(f"http://sneaky.example:{http_target.port}/egress/secret"),
                      EgressPolicy(resolver=resolver))
        outcome_literal = run(http_spec(http_target.url("/egress/secret")), EgressPolicy())
    assert "loopback" in outcome.error and "loopback" in outcome_literal.error
    assert http_target.hits("/egress/secret") == 0
    assert not guard.connected_to(http_target.port)


def test_http_connects_to_the_checked_address_and_keeps_the_host_name(http_target):
    http_target.on("/egress/ok", status=200)
    resolver = StaticResolver({"sneaky.example": ["127.0.0.1"]})
    outcome = run(http_spec(f"http://sneaky.example:{http_target.port}/egress/ok"),
                  EgressPolicy(allow_cidrs=LOOPBACK, resolver=resolver))
    assert outcome.success, outcome.error
    assert http_target.requests("/egress/ok")[0].header("Host") == f"sneaky.example:{http_target.port}"


def test_deny_hosts_wins_over_allow_cidrs(http_target):
    http_target.on("/egress/denied-host", status=200)
    resolver = StaticResolver({"sneaky.example": ["127.0.0.1"]})
    policy = EgressPolicy(allow_cidrs=LOOPBACK, allow_hosts=["sneaky.example"], deny_hosts=["*.example"],
                          resolver=resolver)
    outcome = run(http_spec(f"http://sneaky.example:{http_target.port}/egress/denied-host"), policy)
    assert "denyHosts" in outcome.error
    assert http_target.hits("/egress/denied-host") == 0


def test_redirect_to_a_forbidden_address_is_blocked_before_connecting(http_target):
    with HttpTarget(host="127.0.0.2") as other:  # loopback too, but outside the allowed /32
        other.on("/inside", status=200)
        http_target.on("/egress/hop-ip", redirect=other.url("/inside"))
        http_target.on("/egress/hop-metadata", redirect="http://169.254.169.254/latest/meta-data/")
        http_target.on("/egress/hop-name", redirect="http://evil.example/x")
        policy = EgressPolicy(allow_cidrs=["127.0.0.1/32"], resolver=StaticResolver({"evil.example": ["10.0.0.5"]}))
        with OutboundGuard() as guard:
            to_ip = run(http_spec(http_target.url("/egress/hop-ip")), policy)
            to_metadata = run(http_spec(http_target.url("/egress/hop-metadata")), policy)
            to_name = run(http_spec(http_target.url("/egress/hop-name")), policy)
        assert "127.0.0.2 is a loopback address" in to_ip.error
        assert "metadata" in to_metadata.error
        assert "evil.example -> 10.0.0.5 is a private address" in to_name.error
        assert not (to_ip.success or to_metadata.success or to_name.success)
        assert other.hits() == 0
        assert guard.non_loopback == [] and not guard.connected_to(other.port)
        assert http_target.hits("/egress/hop-ip") == 1  # the first hop was allowed and made


# --- gRPC enforcement ----------------------------------------------------------------------------

def test_grpc_call_to_a_denied_address_is_never_made(grpc_target):
    before = len(grpc_target.methods_seen())
    resolver = StaticResolver({"grpc.evil.example": ["127.0.0.1"], "mixed.example": ["127.0.0.1", "169.254.169.254"]})
    loopback_denied = run(grpc_spec(f"grpc.evil.example:{grpc_target.port}/djs.test.Target"),
                          EgressPolicy(resolver=resolver))
    metadata_mixed = run(grpc_spec(f"mixed.example:{grpc_target.port}/djs.test.Target"),
                         EgressPolicy(allow_cidrs=LOOPBACK, resolver=resolver))
    literal = run(grpc_spec("169.254.169.254:50051/djs.test.Target"), EgressPolicy(allow_cidrs=LOOPBACK))
    assert "loopback" in loopback_denied.error
    assert "metadata" in metadata_mixed.error and "metadata" in literal.error
    assert len(grpc_target.methods_seen()) == before  # not even a reflection call reached the target


def test_grpc_dials_the_checked_address_of_an_allowed_name(grpc_target):
    resolver = StaticResolver({"svc.internal.example": ["127.0.0.1"]})
    outcome = run(grpc_spec(f"svc.internal.example:{grpc_target.port}/djs.test.Target"),
                  EgressPolicy(allow_cidrs=LOOPBACK, resolver=resolver))
    assert outcome.success, outcome.error
    assert resolver.queries == ["svc.internal.example"]



# --- issue 16, finding 8: special-purpose ranges, embedded IPv4, the node's own addresses ----------------------

def policy_without_own_addresses(**kw) -> EgressPolicy:
    """The other rules alone: this machine's interface addresses must not decide these tests."""
    return EgressPolicy(local_addresses=None, **kw)


# One test per range of the IANA special-purpose registries (not globally reachable, or deprecated), each with
# an address inside it that Python 3.11's ``is_global`` does not necessarily catch.
SPECIAL_RANGES = [
    ("192.0.0.0/24", "192.0.0.8"), ("192.0.2.0/24", "192.0.2.2"), ("192.88.99.0/24", "192.88.99.1"),
    ("198.18.0.0/15", "198.19.255.1"), ("198.51.100.0/24", "198.51.100.7"), ("203.0.113.0/24", "203.0.113.9"),
    ("255.255.255.255/32", "255.255.255.255"), ("::/96", "::8.8.8.8"), ("64:ff9b:1::/48", "64:ff9b:1::1"),
    ("100::/64", "100::1"), ("100:0:0:1::/64", "100:0:0:1::1"), ("2001::/23", "2001:1ff::1"),
    ("2001:db8::/32", "2001:db8::1"), ("3fff::/20", "3fff::1"), ("5f00::/16", "5f00::1"), ("fec0::/10", "fec0::1"),
]


@pytest.mark.parametrize("network, address", SPECIAL_RANGES, ids=[n for n, _ in SPECIAL_RANGES])
def test_each_special_purpose_range_is_denied_by_default_and_opened_only_by_allow_cidrs(network, address):
    kind = "reserved" if network == "255.255.255.255/32" else "special-purpose"  # also inside 240.0.0.0/4
    assert kind in denied(address, policy_without_own_addresses())
    assert kind in denied(address, policy_without_own_addresses(deny_private_by_default=False))
    assert kind in denied(address, policy_without_own_addresses(allow_cidrs=LOOPBACK))
    assert denied(address, policy_without_own_addresses(allow_cidrs=[network])) is None


@pytest.mark.parametrize("wrapped", [
    "::ffff:192.0.2.2", "64:ff9b::c000:202", "2002:c000:202::1", "2001:0:4136:e378:8000:63bf:3fff:fdfd",
    "::ffff:203.0.113.9", "64:ff9b::c633:6407",
])
def test_special_purpose_ipv4_ranges_are_denied_in_every_embedded_form(wrapped):
    # mapped, NAT64, 6to4, Teredo (its client 192.0.2.2 obfuscated as 3fff:fdfd; its server 65.54.227.120)
    assert denied(wrapped, policy_without_own_addresses()) is not None


def test_the_embedded_ipv4_of_each_translation_form_is_what_is_judged():
    policy = policy_without_own_addresses(allow_cidrs=["192.0.2.0/24"])
    for form in ("::ffff:192.0.2.2", "64:ff9b::c000:202", "2002:c000:202::1"):
        assert denied(form, policy) is None, form  # allowCidrs on the IPv4 range opens its wrappers too
    public = policy_without_own_addresses()
    for form in ("::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1"):
        assert denied(form, public) is None, form
    assert "private" in denied("64:ff9b::a00:5", public) and "loopback" in denied("2002:7f00:1::", public)


def test_python_is_global_is_an_extra_net_not_the_reference(monkeypatch):
    import ipaddress

    from djs_platform import egress

    # what Python 3.11 calls global although the registry says otherwise: the table catches them
    for address in ("64:ff9b:1::1", "3fff::1", "5f00::1"):
        assert ipaddress.ip_address(address).is_global
        assert "special-purpose" in denied(address, policy_without_own_addresses())
    # with a range missing from the table, Python's view still denies what it knows is not global
    monkeypatch.setattr(egress, "SPECIAL_PURPOSE", tuple(
        (label, net) for label, net in egress.SPECIAL_PURPOSE if str(net) != "2001::/23"))
    assert "not a globally reachable address" in denied("2001:2::1", policy_without_own_addresses())
    assert denied("93.184.216.34", policy_without_own_addresses()) is None
    assert denied("2606:4700::1111", policy_without_own_addresses()) is None


def interface_addresses_from_ip() -> set[str]:
    """This machine's addresses as iproute2 lists them (the reference the kernel reader is compared with)."""
    import json
    import shutil
    import subprocess

    if shutil.which("ip") is None:
        return {"127.0.0.1"}
    out = subprocess.run(["ip", "-j", "addr"], capture_output=True, text=True, check=True).stdout
    return {info["local"] for link in json.loads(out) for info in link.get("addr_info", [])}


def test_the_node_reads_its_own_interface_addresses_from_the_kernel():
    from djs_platform.egress import read_interface_addresses

    assert {str(a) for a in read_interface_addresses()} >= interface_addresses_from_ip()


def test_the_nodes_own_interface_addresses_are_denied_also_in_their_ipv4_mapped_form():
    """The probe's finding: a task reached the node's own interface address (a 192.0.2.0/24 address there)
    and its ``::ffff:`` form. Here: every address of this machine's interfaces, with private ranges allowed."""
    import ipaddress

    policy = EgressPolicy(deny_private_by_default=False)
    own = [ipaddress.ip_address(a.split("%")[0]) for a in interface_addresses_from_ip()]
    for addr in own:
        assert denied(str(addr), policy) is not None, addr
        if addr.version == 4:
            assert denied(f"::ffff:{addr}", policy) is not None, addr


def test_an_own_address_is_denied_even_when_public_and_allow_cidrs_still_wins():
    import ipaddress

    from djs_platform.egress import LocalAddresses

    public = ipaddress.ip_address("93.184.216.34")
    own = LocalAddresses(reader=lambda: [public])
    assert "address of this node" in denied("93.184.216.34", EgressPolicy(local_addresses=own))
    assert "address of this node" in denied("::ffff:93.184.216.34", EgressPolicy(local_addresses=own))
    assert "address of this node" in denied("2002:5db8:d822::1", EgressPolicy(local_addresses=own))
    assert denied("93.184.216.34", EgressPolicy(local_addresses=own, allow_cidrs=["93.184.216.0/24"])) is None


def test_own_addresses_are_read_again_after_60_seconds():
    import ipaddress

    from djs_platform.egress import LocalAddresses

    now = [0.0]
    current = [{ipaddress.ip_address("93.184.216.34")}]
    reads = []

    def reader():
        reads.append(now[0])
        return current[0]

    own = LocalAddresses(reader=reader, clock=lambda: now[0])
    policy = EgressPolicy(local_addresses=own)
    assert denied("93.184.216.34", policy) is not None
    current[0] = {ipaddress.ip_address("93.184.216.35")}  # the interface got a new address
    now[0] = 59.0
    assert denied("93.184.216.35", policy) is None and reads == [0.0]
    now[0] = 60.0
    assert denied("93.184.216.35", policy) is not None and denied("93.184.216.34", policy) is None
    assert reads == [0.0, 60.0]


def test_http_task_to_a_special_purpose_address_is_never_dialled():
    resolver = StaticResolver({"docs.example": ["198.51.100.7"]})
    with OutboundGuard() as guard:
        by_name = run(http_spec("http://docs.example/x"), EgressPolicy(allow_cidrs=LOOPBACK, resolver=resolver))
        literal = run(http_spec("http://[64:ff9b:1::c000:202]/x"), EgressPolicy(allow_cidrs=LOOPBACK))
    assert "special-purpose" in by_name.error and "special-purpose" in literal.error
    assert guard.connects == []


def test_grpc_task_to_a_special_purpose_address_is_never_dialled():
    resolver = StaticResolver({"grpc.docs.example": ["203.0.113.9"]})
    by_name = run(grpc_spec("grpc.docs.example:50051/djs.test.Target"),
                  EgressPolicy(allow_cidrs=LOOPBACK, resolver=resolver))
    literal = run(grpc_spec("[3fff::1]:50051/djs.test.Target"), EgressPolicy(allow_cidrs=LOOPBACK))
    assert "special-purpose" in by_name.error and "special-purpose" in literal.error


def test_alert_webhook_to_the_nodes_own_address_is_refused():
    import ipaddress

    from apps.alerts import delivery
    from apps.tasks.executors.http import HttpExecutor
    from djs_platform.egress import LocalAddresses

    own = LocalAddresses(reader=lambda: [ipaddress.ip_address("93.184.216.34")])

    async def main():
        http = HttpExecutor(1, EgressPolicy(local_addresses=own))
        await http.start()
        try:
            return [await delivery.send_webhook(http, url, None, {"id": 1, "kind": "failure"})
                    for url in ("http://93.184.216.34/hook", "http://[::ffff:93.184.216.34]/hook",
                                "http://192.0.2.10/hook")]
        finally:
            await http.close()

    with OutboundGuard() as guard:
        outcomes = asyncio.run(main())
    assert [o["ok"] for o in outcomes] == [False, False, False]
    assert "address of this node" in outcomes[0]["error"] and "address of this node" in outcomes[1]["error"]
    assert "special-purpose" in outcomes[2]["error"]
    assert guard.connects == []
