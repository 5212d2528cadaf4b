"""Where the Meet API is: Google's own endpoint, or an emulator on a loopback address (``MEET_API_ENDPOINT``)."""

from __future__ import annotations

import ipaddress
import logging
import re
from dataclasses import dataclass

logger = logging.getLogger(__name__)

GOOGLE_HOST = "meet.googleapis.com"
_BRACKETED = re.compile(r"^\[(?P<host>[^\]]+)\](?::(?P<port>[^:]*))?$")


@dataclass(frozen=True)
class MeetEndpoint:
    """A Meet API server. ``loopback`` means an emulator, reached over an insecure channel without credentials."""

    host: str
    port: int
    loopback: bool

    @property
    def address(self) -> str:
        """``host:port``, an IPv6 host in brackets."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def grpc_target(self) -> str:
        """The gRPC channel target (explicit ``ipv4:``/``ipv6:`` schemes for literal addresses)."""
        try:
            ip = ipaddress.ip_address(self.host)
        except ValueError:
            return self.address
        return f"ipv{ip.version}:{self.address}"


GOOGLE_ENDPOINT = MeetEndpoint(GOOGLE_HOST, 443, loopback=False)


def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` and any loopback IP address (127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_endpoint(value: str | None) -> MeetEndpoint:
    """Parse ``MEET_API_ENDPOINT``: ``None`` or empty is Google's own; otherwise ``host[:port]``.

    Accepted: ``127.0.0.1:50051``, ``localhost:50051``, ``[::1]:50051``, ``meet.googleapis.com``,
    ``meet.googleapis.com:443``; a leading ``scheme://`` and a trailing ``/`` are ignored. A loopback
    host needs an explicit port (there is no default port for an emulator); any other host defaults
    to 443. Raises ``ValueError`` for anything else.
    """
    if value is None or not value.strip():
        return GOOGLE_ENDPOINT
    text = value.strip()
    if "://" in text:
        text = text.split("://", 1)[1]
    text = text.rstrip("/")
    port_text: str | None
    bracketed = _BRACKETED.match(text)
    if bracketed:
        host, port_text = bracketed.group("host"), bracketed.group("port")
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    elif ":" not in text:
        host, port_text = text, None
    else:
        raise ValueError(f"invalid Meet API endpoint {value!r}: write an IPv6 address in brackets, e.g. [::1]:50051")
    if not host or "/" in host or any(c.isspace() for c in host):
        raise ValueError(f"invalid Meet API endpoint {value!r}: no host")
    loopback = is_loopback_host(host)
    if port_text is None:
        if loopback:
            raise ValueError(f"invalid Meet API endpoint {value!r}: a loopback (emulator) endpoint needs a port")
        return MeetEndpoint(host, 443, loopback=False)
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"invalid Meet API endpoint {value!r}: bad port {port_text!r}")
    return MeetEndpoint(host, int(port_text), loopback=loopback)
