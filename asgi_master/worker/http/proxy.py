"""Proxy headers: who the client really is, when a trusted proxy says so.

Theory of operation: a reverse proxy tells the server about the original request in
``X-Forwarded-For``/``-Proto``/``-Host`` or in RFC 7239 ``Forwarded``. Anyone can send those
headers, so they are believed only when the connection's peer is a trusted proxy
(``forwarded_allow_ips``; a UNIX socket peer is always trusted). Each proxy of a chain appends
the address it received the request from, so the list is read from the right: entries that are
themselves trusted proxies are skipped, and the first untrusted one is the client (if every hop
is trusted, the leftmost). ``Forwarded`` wins over ``X-Forwarded-*`` when both are present.
Headers that do not parse are ignored, never raised on: the peer cannot be trusted to be
well-formed any more than it can be trusted to be honest.
"""

from __future__ import annotations

import enum
import ipaddress
import re
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any, Final

from ...grammar import TOKEN_PATTERN

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: header names the single pass over a request's headers looks for
_FORWARDED: Final = b"forwarded"
_XFF: Final = b"x-forwarded-for"
_XFP: Final = b"x-forwarded-proto"
_XFH: Final = b"x-forwarded-host"
_WANTED: Final = frozenset({_FORWARDED, _XFF, _XFP, _XFH})

_SECURE: Final = {"https": True, "wss": True, "http": False, "ws": False}
_DEFAULT_PORT: Final = {"http": 80, "ws": 80, "https": 443, "wss": 443}

# RFC 7239: forwarded-pair = token "=" value; value = token / quoted-string.
_TOKEN: Final = TOKEN_PATTERN.decode("ascii")
_PAIR: Final = re.compile(
    r"[ \t]*(" + _TOKEN + r")=(" + _TOKEN + r'|"(?:[^"\\\x00-\x08\x0a-\x1f\x7f]|\\[\t\x20-\x7e])*")'
    r"[ \t]*([;,]|$)"
)
_QUOTED_PAIR: Final = re.compile(r"\\(.)")
# RFC 3986 reg-name or IPv4, optional port; or a bracketed IPv6 literal, optional port
_HOST: Final = re.compile(r"(?:[-A-Za-z0-9._~!$&'()*+,;=%]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?")
_PORT: Final = re.compile(r"[0-9]{1,5}")
_OBFUSCATED: Final = re.compile(r"_[A-Za-z0-9._-]+")

_CACHE_MAX: Final = 1024


class Node(enum.Enum):
    """What a hop's ``for`` says about the party the proxy received the request from."""

    ADDRESS = "address"
    #: ``unknown`` or an obfuscated ``_name`` (RFC 7239 section 6): deliberately not told
    HIDDEN = "hidden"
    #: no ``for`` at all (a ``Forwarded`` element with only ``proto=``, or ``X-Forwarded-Proto``
    #: without ``X-Forwarded-For``)
    ABSENT = "absent"
    #: not an address nor an identifier: the header is ignored
    GARBAGE = "garbage"


@dataclass(frozen=True, slots=True)
class Hop:
    """One entry of a forwarding chain, with the protocol and host that proxy was asked for."""

    node: Node
    address: IPAddress | None = None
    port: int = 0
    proto: str | None = None
    host: str | None = None


class ProxyTrust:
    """Which peers may speak for the client, and the scope rewrite they are allowed."""

    __slots__ = ("_addresses", "_any", "_cache", "_networks")

    def __init__(self, allow: list[str]) -> None:
        self._any = False
        self._addresses: set[IPAddress] = set()
        self._networks: list[IPNetwork] = []
        for entry in allow:
            text = entry.strip()
            if text == "*":
                self._any = True
            elif "/" in text:
                self._networks.append(ipaddress.ip_network(text, strict=False))
            else:
                self._addresses.add(ipaddress.ip_address(text))
        #: peer host string -> trusted; peers repeat (the proxy's few addresses), so after the
        #: first request a check costs one dict lookup
        self._cache: dict[str, bool] = {}

    def trusts(self, client: tuple[str, int] | None) -> bool:
        """Whether this peer's proxy headers are believed (None: a UNIX socket peer, trusted)."""
        if client is None or self._any:
            return True
        host = client[0]
        known = self._cache.get(host)
        if known is None:
            known = self._trusts_address(_parse_ip(host))
            if len(self._cache) >= _CACHE_MAX:
                self._cache.clear()
            self._cache[host] = known
        return known

    def _trusts_address(self, address: IPAddress | None) -> bool:
        if address is None:
            return False
        if self._any:
            return True
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            # a dual-stack socket shows IPv4 peers as ::ffff:a.b.c.d
            address = address.ipv4_mapped
        if address in self._addresses:
            return True
        return any(address in network for network in self._networks)

    def apply(self, scope: MutableMapping[str, Any]) -> None:
        """Rewrite ``client``, ``scheme`` and ``server`` from the proxy headers of a trusted
        peer; do nothing for an untrusted peer or a request without such headers."""
        if not self.trusts(scope.get("client")):
            return
        found: dict[bytes, list[bytes]] | None = None
        for name, value in scope["headers"]:
            if name in _WANTED:
                if found is None:
                    found = {}
                found.setdefault(name, []).append(value)
        if found is None:
            return
        hops = parse_forwarded(_join(found[_FORWARDED])) if _FORWARDED in found else None
        if not hops:
            # no Forwarded, or one that does not parse: X-Forwarded-* may still be usable
            hops = _x_forwarded_hops(found)
        if not hops:
            return
        hop = self._select(hops)
        if hop.node is Node.GARBAGE:
            return
        if hop.node is Node.ADDRESS:
            scope["client"] = (str(hop.address), hop.port)
        elif hop.node is Node.HIDDEN:
            # the proxy says it does not know, or will not tell, who the client is
            scope["client"] = None
        _apply_scheme_and_host(scope, hop)

    def _select(self, hops: list[Hop]) -> Hop:
        """The client's hop: the first untrusted one from the right, else the leftmost."""
        for hop in reversed(hops):
            if hop.node is not Node.ADDRESS or not self._trusts_address(hop.address):
                return hop
        return hops[0]


def _join(values: list[bytes]) -> str:
    """Repeated header lines of a list-valued field, as one comma-separated value."""
    return ",".join(v.decode("latin-1") for v in values)


def _parse_ip(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def parse_node(text: str) -> Hop:
    """An RFC 7239 node (``1.2.3.4``, ``1.2.3.4:80``, ``"[::1]:80"``, ``unknown``, ``_hidden``)
    or an ``X-Forwarded-For`` entry (where bare IPv6 is common), as a hop without proto/host."""
    text = text.strip()
    port_text = ""
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            return Hop(Node.GARBAGE)
        port_text = rest[1:]
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    else:
        host = text  # IPv4, bare IPv6, or an identifier
    address = _parse_ip(host)
    if address is None:
        hidden = host.lower() == "unknown" or _OBFUSCATED.fullmatch(host) is not None
        return Hop(Node.HIDDEN if hidden else Node.GARBAGE)
    # an obfuscated or absent port is no port
    port = int(port_text) if _PORT.fullmatch(port_text) and int(port_text) <= 65535 else 0
    return Hop(Node.ADDRESS, address, port)


def parse_forwarded(value: str) -> list[Hop] | None:
    """The elements of a ``Forwarded`` value, left to right; None if it does not parse."""
    hops: list[Hop] = []
    params: dict[str, str] = {}
    pos, end = 0, len(value)
    while pos < end:
        match = _PAIR.match(value, pos)
        if match is None:
            # tolerate empty list elements ("a, , b") as RFC 9110 list syntax allows
            rest = value[pos:].lstrip(" \t")
            if rest.startswith(","):
                pos = end - len(rest) + 1
                hops.extend(_hop(params))
                params = {}
                continue
            return None
        key, raw, sep = match.groups()
        key = key.lower()
        if key in params:
            return None  # a parameter may appear once per element
        params[key] = _QUOTED_PAIR.sub(r"\1", raw[1:-1]) if raw.startswith('"') else raw
        pos = match.end()
        if sep != ";":
            hops.extend(_hop(params))
            params = {}
    hops.extend(_hop(params))
    return hops


def _hop(params: dict[str, str]) -> list[Hop]:
    if not params:
        return []
    node = parse_node(params["for"]) if "for" in params else Hop(Node.ABSENT)
    return [Hop(node.node, node.address, node.port, params.get("proto"), params.get("host"))]


def _x_forwarded_hops(found: dict[bytes, list[bytes]]) -> list[Hop]:
    """The chain told by ``X-Forwarded-*``; ``-Proto``/``-Host`` entries pair with the
    ``-For`` entries by position when the lists are as long, else the last one applies."""
    fors = [e for e in _join(found[_XFF]).split(",") if e.strip()] if _XFF in found else []
    protos = [e.strip() for e in _join(found[_XFP]).split(",")] if _XFP in found else []
    hosts = [e.strip() for e in _join(found[_XFH]).split(",")] if _XFH in found else []
    if not fors:
        if not protos and not hosts:
            return []
        return [
            Hop(
                Node.ABSENT, proto=protos[-1] if protos else None, host=hosts[-1] if hosts else None
            )
        ]
    hops = []
    for index, entry in enumerate(fors):
        node = parse_node(entry)
        hops.append(
            Hop(
                node.node,
                node.address,
                node.port,
                _pick(protos, index, len(fors)),
                _pick(hosts, index, len(fors)),
            )
        )
    return hops


def _pick(values: list[str], index: int, length: int) -> str | None:
    if not values:
        return None
    return values[index] if len(values) == length else values[-1]


def _apply_scheme_and_host(scope: MutableMapping[str, Any], hop: Hop) -> None:
    if hop.proto is not None:
        secure = _SECURE.get(hop.proto.strip().lower())
        if secure is not None:
            if scope.get("type") == "websocket":
                scope["scheme"] = "wss" if secure else "ws"
            else:
                scope["scheme"] = "https" if secure else "http"
    if hop.host is not None and _HOST.fullmatch(hop.host):
        server = _server_address(hop.host, scope.get("scheme", "http"))
        if server is not None:
            scope["server"] = server


def _server_address(host: str, scheme: str) -> tuple[str, int] | None:
    """``example.com:8443`` -> (example.com, 8443); no port: the scheme's default port."""
    if host.startswith("["):
        name, _, rest = host[1:].partition("]")
        if _parse_ip(name) is None:
            return None
        port_text = rest[1:]
    else:
        name, _, port_text = host.partition(":")
    if port_text:
        port = int(port_text)
        if port > 65535:
            return None
    else:
        port = _DEFAULT_PORT.get(scheme, 80)
    return (name.lower(), port)
