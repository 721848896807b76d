"""Who is acting, from where and through which door (REST, gRPC, CLI); passed to every service."""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings

if TYPE_CHECKING:
    from django.contrib.auth.models import (
        AbstractBaseUser as User,  # AUTH_USER_MODEL; the platform names no app
    )


def client_ip(request) -> str:
    """The caller's address. ``X-Forwarded-For`` is believed only when the peer is a trusted proxy."""
    remote = request.META.get("REMOTE_ADDR", "") or ""
    trusted = settings.DJS_SERVER.trusted_proxies
    if not trusted or not in_networks(remote, trusted):
        return remote
    hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
    for hop in reversed(hops):
        if not in_networks(hop, trusted):
            return hop
    return remote


def in_networks(address: str, networks: list[str]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(net, strict=False) for net in networks)


@dataclass(frozen=True)
class Actor:
    user: "User"
    ip: str = ""
    user_agent: str = ""
    via: str = "rest"

    @classmethod
    def from_request(cls, request) -> "Actor":
        return cls(
            user=request.user,
            ip=client_ip(request),
            user_agent=request.META.get("HTTP_USER_AGENT", "")[:255],
            via="rest",
        )
