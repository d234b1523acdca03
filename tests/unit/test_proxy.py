"""ProxyTrust: proxy headers believed only from trusted peers, the right hop of a chain."""

from __future__ import annotations

from typing import Any

import pytest

from asgi_master.worker.http.proxy import Node, ProxyTrust, parse_forwarded, parse_node

PROXY = ("127.0.0.1", 50000)


def scope(
    *headers: tuple[str, str], client: tuple[str, int] | None = PROXY, kind: str = "http"
) -> dict[str, Any]:
    return {
        "type": kind,
        "client": client,
        "scheme": "ws" if kind == "websocket" else "http",
        "server": ("127.0.0.1", 8000),
        "headers": [(n.lower().encode(), v.encode("latin-1")) for n, v in headers],
    }


def applied(allow: list[str], *headers: tuple[str, str], **kwargs: Any) -> dict[str, Any]:
    s = scope(*headers, **kwargs)
    ProxyTrust(allow).apply(s)
    return s


# -- trust rules -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("allow", "peer", "trusted"),
    [
        (["127.0.0.1"], "127.0.0.1", True),
        (["127.0.0.1"], "127.0.0.2", False),
        (["10.0.0.0/8"], "10.200.3.4", True),
        (["10.0.0.0/8"], "11.0.0.1", False),
        (["10.1.2.3/8"], "10.9.9.9", True),  # host bits set: read as the network
        (["::1"], "::1", True),
        (["::1"], "127.0.0.1", False),
        (["2001:db8::/32"], "2001:db8:1::5", True),
        (["127.0.0.1"], "::ffff:127.0.0.1", True),  # IPv4 peer seen through a dual-stack socket
        (["*"], "203.0.113.9", True),
        (["127.0.0.1"], "not-an-ip", False),
    ],
)
def test_trust_by_address_network_and_wildcard(allow, peer, trusted):
    assert ProxyTrust(allow).trusts((peer, 1234)) is trusted


def test_unix_socket_peer_is_trusted():
    assert ProxyTrust(["127.0.0.1"]).trusts(None)


def test_trust_answer_is_stable_when_cached():
    trust = ProxyTrust(["10.0.0.0/8"])
    assert [trust.trusts(("10.0.0.1", p)) for p in range(3)] == [True, True, True]
    assert [trust.trusts(("8.8.8.8", p)) for p in range(3)] == [False, False, False]


def test_untrusted_peer_headers_are_ignored():
    s = applied(
        ["127.0.0.1"],
        ("X-Forwarded-For", "1.2.3.4"),
        ("X-Forwarded-Proto", "https"),
        client=("198.51.100.7", 4000),
    )
    assert s["client"] == ("198.51.100.7", 4000) and s["scheme"] == "http"


def test_request_without_proxy_headers_is_left_alone():
    s = applied(["127.0.0.1"], ("Host", "example.com"), ("Accept", "*/*"))
    assert s == scope(("Host", "example.com"), ("Accept", "*/*"))


# -- X-Forwarded-* ---------------------------------------------------------------------------


def test_x_forwarded_for_from_a_trusted_proxy_sets_the_client():
    s = applied(["127.0.0.1"], ("X-Forwarded-For", "203.0.113.5"))
    assert s["client"] == ("203.0.113.5", 0)


def test_x_forwarded_proto_sets_the_scheme():
    assert applied(["127.0.0.1"], ("X-Forwarded-Proto", "https"))["scheme"] == "https"
    assert applied(["127.0.0.1"], ("X-Forwarded-Proto", "HTTPS"))["scheme"] == "https"


@pytest.mark.parametrize(("proto", "scheme"), [("https", "wss"), ("http", "ws"), ("wss", "wss")])
def test_websocket_scopes_get_ws_schemes(proto, scheme):
    s = applied(["127.0.0.1"], ("X-Forwarded-Proto", proto), kind="websocket")
    assert s["scheme"] == scheme


def test_unknown_proto_is_ignored():
    assert applied(["127.0.0.1"], ("X-Forwarded-Proto", "gopher"))["scheme"] == "http"


def test_x_forwarded_host_sets_the_server_with_the_scheme_default_port():
    s = applied(["127.0.0.1"], ("X-Forwarded-Host", "Example.com"), ("X-Forwarded-Proto", "https"))
    assert s["server"] == ("example.com", 443)


def test_x_forwarded_host_with_a_port_keeps_it():
    s = applied(["127.0.0.1"], ("X-Forwarded-Host", "example.com:8443"))
    assert s["server"] == ("example.com", 8443)


def test_x_forwarded_host_ipv6_literal():
    s = applied(["127.0.0.1"], ("X-Forwarded-Host", "[2001:db8::1]:8080"))
    assert s["server"] == ("2001:db8::1", 8080)


def test_x_forwarded_for_with_a_port():
    assert applied(["127.0.0.1"], ("X-Forwarded-For", "203.0.113.5:4711"))["client"] == (
        "203.0.113.5",
        4711,
    )


@pytest.mark.parametrize("entry", ["2001:db8::7", "[2001:db8::7]", "[2001:db8::7]:0"])
def test_x_forwarded_for_ipv6_bare_or_bracketed(entry):
    assert applied(["127.0.0.1"], ("X-Forwarded-For", entry))["client"] == ("2001:db8::7", 0)


def test_repeated_x_forwarded_for_lines_form_one_list():
    s = applied(
        ["127.0.0.1", "10.0.0.0/8"],
        ("X-Forwarded-For", "203.0.113.5"),
        ("X-Forwarded-For", "10.0.0.2"),
    )
    assert s["client"] == ("203.0.113.5", 0)


# -- chains ----------------------------------------------------------------------------------


def test_chain_takes_the_first_untrusted_entry_from_the_right():
    s = applied(
        ["127.0.0.1", "10.0.0.0/8"],
        ("X-Forwarded-For", "198.51.100.1, 203.0.113.5, 10.0.0.3, 10.0.0.2"),
    )
    assert s["client"] == ("203.0.113.5", 0)


def test_chain_ignores_what_the_client_claimed_before_the_real_address():
    # the client sent "X-Forwarded-For: 127.0.0.1"; the trusted proxy appended its real address
    s = applied(["127.0.0.1"], ("X-Forwarded-For", "127.0.0.1, 203.0.113.5"))
    assert s["client"] == ("203.0.113.5", 0)


def test_chain_of_only_trusted_hops_takes_the_leftmost():
    s = applied(["127.0.0.1", "10.0.0.0/8"], ("X-Forwarded-For", "10.0.0.9, 10.0.0.2"))
    assert s["client"] == ("10.0.0.9", 0)


def test_wildcard_trust_takes_the_leftmost():
    s = applied(["*"], ("X-Forwarded-For", "203.0.113.5, 198.51.100.1"))
    assert s["client"] == ("203.0.113.5", 0)


def test_proto_pairs_with_the_chosen_hop_when_lists_line_up():
    s = applied(
        ["127.0.0.1", "10.0.0.0/8"],
        ("X-Forwarded-For", "203.0.113.5, 10.0.0.2"),
        ("X-Forwarded-Proto", "https, http"),
    )
    assert s["client"] == ("203.0.113.5", 0) and s["scheme"] == "https"


def test_single_proto_applies_to_a_longer_chain():
    s = applied(
        ["127.0.0.1", "10.0.0.0/8"],
        ("X-Forwarded-For", "203.0.113.5, 10.0.0.2"),
        ("X-Forwarded-Proto", "https"),
    )
    assert s["scheme"] == "https"


# -- Forwarded (RFC 7239) --------------------------------------------------------------------


def test_forwarded_sets_client_scheme_and_server():
    s = applied(["127.0.0.1"], ("Forwarded", 'for=192.0.2.60;proto=https;host="example.com"'))
    assert s["client"] == ("192.0.2.60", 0)
    assert s["scheme"] == "https"
    assert s["server"] == ("example.com", 443)


def test_forwarded_ipv6_in_brackets_with_a_port():
    s = applied(["127.0.0.1"], ("Forwarded", 'For="[2001:db8:cafe::17]:4711"'))
    assert s["client"] == ("2001:db8:cafe::17", 4711)


def test_forwarded_chain_takes_proto_and_host_from_the_chosen_element():
    s = applied(
        ["127.0.0.1", "10.0.0.0/8"],
        (
            "Forwarded",
            "for=203.0.113.5;proto=https;host=shop.example, for=10.0.0.2;proto=http;host=internal",
        ),
    )
    assert s["client"] == ("203.0.113.5", 0)
    assert (s["scheme"], s["server"]) == ("https", ("shop.example", 443))


def test_forwarded_lines_combine_and_the_chain_is_walked():
    s = applied(
        ["127.0.0.1", "10.0.0.0/8"],
        ("Forwarded", "for=198.51.100.1"),
        ("Forwarded", "for=203.0.113.5, for=10.0.0.2"),
    )
    assert s["client"] == ("203.0.113.5", 0)


@pytest.mark.parametrize("node", ["unknown", "_hidden", "_SEVKISEK", '"_gazonk:_port"'])
def test_forwarded_unknown_or_obfuscated_client_becomes_none(node):
    s = applied(["127.0.0.1"], ("Forwarded", f"for={node};proto=https"))
    assert s["client"] is None and s["scheme"] == "https"


def test_forwarded_element_without_for_keeps_the_client():
    s = applied(["127.0.0.1"], ("Forwarded", "proto=https"))
    assert s["client"] == PROXY and s["scheme"] == "https"


def test_forwarded_quoted_values_with_escapes():
    s = applied(["127.0.0.1"], ("Forwarded", r'for="198.51.100.\7";host="a\.example"'))
    assert s["client"] == ("198.51.100.7", 0) and s["server"] == ("a.example", 80)


def test_forwarded_comma_inside_quotes_does_not_split_elements():
    hops = parse_forwarded('for="_a,b";proto=https, for=192.0.2.1')
    assert hops is not None and len(hops) == 2
    assert hops[0].node is Node.GARBAGE and hops[0].proto == "https"


# -- precedence ------------------------------------------------------------------------------


def test_forwarded_wins_over_x_forwarded():
    s = applied(
        ["127.0.0.1"],
        ("X-Forwarded-For", "198.51.100.1"),
        ("X-Forwarded-Proto", "http"),
        ("Forwarded", "for=203.0.113.5;proto=https"),
    )
    assert s["client"] == ("203.0.113.5", 0) and s["scheme"] == "https"


def test_malformed_forwarded_falls_back_to_x_forwarded():
    s = applied(["127.0.0.1"], ("Forwarded", "for=;;;garbage"), ("X-Forwarded-For", "198.51.100.1"))
    assert s["client"] == ("198.51.100.1", 0)


# -- garbage ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "",
        ",",
        "garbage",
        "1.2.3.4.5",
        "[::1",
        "[::1]x",
        "999.1.1.1",
        "\x00\xff",
        "a b c",
    ],
)
def test_garbage_x_forwarded_for_changes_nothing(value):
    s = applied(["127.0.0.1"], ("X-Forwarded-For", value))
    assert s["client"] == PROXY


@pytest.mark.parametrize(
    "value",
    [
        "for",
        "for=",
        "for=1.2.3.4;for=5.6.7.8",
        'for="unterminated',
        "=x",
        "for=a b",
        "for=1.2.3.4;;",
        "\x00",
        'for="\x01"',
    ],
)
def test_garbage_forwarded_changes_nothing(value):
    s = applied(["127.0.0.1"], ("Forwarded", value))
    assert s["client"] == PROXY and s["scheme"] == "http"


@pytest.mark.parametrize("host", ["exa mple.com", "a/b", "example.com:99999", "[zz]:80", ""])
def test_garbage_forwarded_host_leaves_the_server(host):
    s = applied(["127.0.0.1"], ("X-Forwarded-Host", host))
    assert s["server"] == ("127.0.0.1", 8000)


def test_garbage_reached_in_a_chain_ignores_the_header():
    s = applied(["127.0.0.1", "10.0.0.0/8"], ("X-Forwarded-For", "bogus, 10.0.0.2"))
    assert s["client"] == PROXY


def test_garbage_left_of_the_client_does_not_matter():
    s = applied(["127.0.0.1"], ("X-Forwarded-For", "bogus, 203.0.113.5"))
    assert s["client"] == ("203.0.113.5", 0)


@pytest.mark.parametrize(
    ("text", "node", "port"),
    [
        ("192.0.2.43", Node.ADDRESS, 0),
        ("192.0.2.43:_port", Node.ADDRESS, 0),
        ("[2001:db8::1]:8080", Node.ADDRESS, 8080),
        ("unknown", Node.HIDDEN, 0),
        ("UNKNOWN", Node.HIDDEN, 0),
        ("_x.y-z", Node.HIDDEN, 0),
        ("example.com", Node.GARBAGE, 0),
        ("[example.com]", Node.GARBAGE, 0),
    ],
)
def test_node_forms(text, node, port):
    hop = parse_node(text)
    assert (hop.node, hop.port) == (node, port)
