"""TLS: the server context from settings, real handshakes on 127.0.0.1, the ``tls`` extension."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path
from typing import Any

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from asgi_master.config import Config, load
from asgi_master.worker.tls import _rfc4514_name, build_ssl_context, tls_scope_extension

pytestmark = pytest.mark.timeout(30)

#: IANA numbers of the suites these handshakes can pick (RFC 8446, RFC 5289, RFC 7905)
IANA = {
    "TLS_AES_128_GCM_SHA256": 0x1301,
    "TLS_AES_256_GCM_SHA384": 0x1302,
    "TLS_CHACHA20_POLY1305_SHA256": 0x1303,
    "ECDHE-ECDSA-AES128-GCM-SHA256": 0xC02B,
    "ECDHE-ECDSA-AES256-GCM-SHA384": 0xC02C,
    "ECDHE-RSA-AES128-GCM-SHA256": 0xC02F,
    "ECDHE-RSA-AES256-GCM-SHA384": 0xC030,
    "ECDHE-ECDSA-CHACHA20-POLY1305": 0xCCA9,
    "ECDHE-RSA-CHACHA20-POLY1305": 0xCCA8,
}


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def server_cert(ca: trustme.CA) -> trustme.LeafCert:
    return ca.issue_cert("localhost", "127.0.0.1")


@pytest.fixture
def files(tmp_path: Path, ca: trustme.CA, server_cert: trustme.LeafCert) -> dict[str, str]:
    paths = {"cert": tmp_path / "cert.pem", "key": tmp_path / "key.pem", "ca": tmp_path / "ca.pem"}
    paths["cert"].write_bytes(b"".join(p.bytes() for p in server_cert.cert_chain_pems))
    server_cert.private_key_pem.write_to_path(str(paths["key"]))
    ca.cert_pem.write_to_path(str(paths["ca"]))
    return {k: str(v) for k, v in paths.items()}


def config(files: dict[str, str], *flags: str) -> Config:
    return load(
        ["tests.apps.basic:app", "--certfile", files["cert"], "--keyfile", files["key"], *flags], {}
    ).config


def server_context(files: dict[str, str], *flags: str) -> ssl.SSLContext:
    context = build_ssl_context(config(files, *flags))
    assert context is not None
    return context


def client_context(
    ca: trustme.CA, cert: trustme.LeafCert | None = None, max_version: ssl.TLSVersion | None = None
) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ca.configure_trust(context)
    if cert is not None:
        cert.configure_cert(context)
    if max_version is not None:
        context.maximum_version = max_version
    return context


def handshake(server: ssl.SSLContext, client: ssl.SSLContext) -> dict[str, Any]:
    """Connect over 127.0.0.1; the ``tls`` extension the server built for the connection.
    Raises what the client saw if the server refused it."""

    async def run() -> dict[str, Any]:
        seen: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            seen.set_result(tls_scope_extension(writer.get_extra_info("ssl_object")))
            writer.write(b"ok")
            await writer.drain()
            writer.close()

        listener = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=server)
        port = listener.sockets[0].getsockname()[1]
        try:
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", port, ssl=client, server_hostname="localhost"
            )
            try:
                data = await reader.read()
            finally:
                writer.close()
            if data != b"ok":
                raise ConnectionError(f"server closed the connection: {data!r}")
            return await asyncio.wait_for(seen, 5)
        finally:
            listener.close()
            await listener.wait_closed()

    return asyncio.run(asyncio.wait_for(run(), 15))


def subject_of(cert: trustme.LeafCert) -> str:
    return x509.load_pem_x509_certificate(cert.cert_chain_pems[0].bytes()).subject.rfc4514_string()


# -- building the context ---------------------------------------------------------------------


def test_no_certfile_means_no_tls():
    assert build_ssl_context(load(["tests.apps.basic:app"], {}).config) is None


def test_handshake_reports_server_cert_version_and_cipher(files, ca, server_cert):
    tls = handshake(server_context(files), client_context(ca))
    assert tls["server_cert"] == server_cert.cert_chain_pems[0].bytes().decode()
    assert tls["tls_version"] == 0x0304
    assert tls["cipher_suite"] in {0x1301, 0x1302, 0x1303}
    assert (tls["client_cert_chain"], tls["client_cert_name"], tls["client_cert_error"]) == (
        [],
        None,
        None,
    )


def test_tls_1_2_reports_its_version_and_the_iana_cipher_number(files, ca):
    server = server_context(files)
    tls = handshake(server, client_context(ca, max_version=ssl.TLSVersion.TLSv1_2))
    assert tls["tls_version"] == 0x0303
    assert tls["cipher_suite"] in set(IANA.values()) - {0x1301, 0x1302, 0x1303}


def test_cipher_number_matches_the_negotiated_name(files, ca):
    async def negotiated() -> str:
        server = server_context(files)
        names: list[str] = []

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            ssl_object = writer.get_extra_info("ssl_object")
            names.append(ssl_object.cipher()[0])
            assert tls_scope_extension(ssl_object)["cipher_suite"] == IANA[names[0]]
            writer.close()

        listener = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=server)
        port = listener.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection(
            "127.0.0.1",
            port,
            ssl=client_context(ca, max_version=ssl.TLSVersion.TLSv1_2),
            server_hostname="localhost",
        )
        await reader.read()
        writer.close()
        listener.close()
        await listener.wait_closed()
        return names[0]

    assert asyncio.run(asyncio.wait_for(negotiated(), 15)) in IANA


def test_minimum_version_1_3_refuses_a_tls_1_2_client(files, ca):
    server = server_context(files, "--tls-min-version", "1.3")
    with pytest.raises((ssl.SSLError, ConnectionError)):
        handshake(server, client_context(ca, max_version=ssl.TLSVersion.TLSv1_2))


def test_ciphers_setting_limits_tls_1_2_suites(files, ca):
    server = server_context(files, "--ciphers", "ECDHE+AES128")
    tls = handshake(server, client_context(ca, max_version=ssl.TLSVersion.TLSv1_2))
    assert tls["cipher_suite"] in {0xC02B, 0xC02F, 0xC009, 0xC013, 0xC023, 0xC027}


@pytest.mark.parametrize(
    ("flags", "chosen"), [((), "h2"), (("--no-http2",), "http/1.1")], ids=["http2", "http2 off"]
)
def test_alpn_chooses_http2_unless_it_is_off(files, ca, flags, chosen):
    client = client_context(ca)
    client.set_alpn_protocols(["h2", "http/1.1"])

    async def run() -> str | None:
        listener = await asyncio.start_server(
            lambda r, w: w.close(), "127.0.0.1", 0, ssl=server_context(files, *flags)
        )
        port = listener.sockets[0].getsockname()[1]
        _reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=client, server_hostname="localhost"
        )
        protocol = writer.get_extra_info("ssl_object").selected_alpn_protocol()
        writer.close()
        listener.close()
        await listener.wait_closed()
        return protocol

    assert asyncio.run(asyncio.wait_for(run(), 15)) == chosen


def test_encrypted_key_with_its_password(tmp_path, files, ca, server_cert):
    key = serialization.load_pem_private_key(server_cert.private_key_pem.bytes(), None)
    encrypted = tmp_path / "encrypted.pem"
    encrypted.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"s3cret"),
        )
    )
    server = build_ssl_context(
        load(
            ["tests.apps.basic:app", "--certfile", files["cert"], "--keyfile", str(encrypted)],
            {"ASGI_MASTER_KEYFILE_PASSWORD": "s3cret"},
        ).config
    )
    assert server is not None
    assert handshake(server, client_context(ca))["tls_version"] == 0x0304


# -- client certificates ----------------------------------------------------------------------


def test_required_client_certificate_is_reported(files, ca):
    alice = ca.issue_cert(
        "alice@example.org",
        common_name="Alice, Smith",
        organization_name="Example+Co",
        organization_unit_name="QA",
    )
    server = server_context(files, "--ca-certs", files["ca"], "--cert-reqs", "required")
    tls = handshake(server, client_context(ca, alice))
    assert tls["client_cert_chain"][0] == alice.cert_chain_pems[0].bytes().decode()
    assert tls["client_cert_name"] == subject_of(alice)
    assert tls["client_cert_name"].startswith("CN=Alice\\, Smith,OU=QA,O=Example\\+Co")
    assert tls["client_cert_error"] is None


def test_client_chain_is_reported_as_the_client_sent_it(files, ca):
    """Leaf first, then the intermediate it was given; not the root that verification adds."""
    intermediate = ca.create_child_ca()
    dave = intermediate.issue_cert("dave@example.org")
    sent = [pem.bytes().decode() for pem in dave.cert_chain_pems]
    assert len(sent) == 2  # leaf, intermediate
    server = server_context(files, "--ca-certs", files["ca"], "--cert-reqs", "required")
    assert handshake(server, client_context(ca, dave))["client_cert_chain"] == sent


def test_client_that_sends_only_its_certificate_is_reported_with_it_alone(tmp_path, files, ca):
    # the client's certificate comes from a CA the client itself does not trust, so OpenSSL
    # cannot complete the chain from the client's store and sends the leaf alone
    client_ca = trustme.CA()
    erin = client_ca.issue_cert("erin@example.org")
    client_ca_file = tmp_path / "client-ca.pem"
    client_ca.cert_pem.write_to_path(str(client_ca_file))
    server = server_context(files, "--ca-certs", str(client_ca_file), "--cert-reqs", "required")
    tls = handshake(server, client_context(ca, erin))
    assert tls["client_cert_chain"] == [erin.cert_chain_pems[0].bytes().decode()]


def test_required_client_certificate_missing_is_refused(files, ca):
    server = server_context(files, "--ca-certs", files["ca"], "--cert-reqs", "required")
    with pytest.raises((ssl.SSLError, ConnectionError)):
        handshake(server, client_context(ca))


def test_client_certificate_from_another_ca_is_refused(files, ca):
    stranger = trustme.CA().issue_cert("mallory@example.org")
    server = server_context(files, "--ca-certs", files["ca"], "--cert-reqs", "optional")
    with pytest.raises((ssl.SSLError, ConnectionError)):
        handshake(server, client_context(ca, stranger))


def test_optional_client_certificate_may_be_absent(files, ca):
    server = server_context(files, "--ca-certs", files["ca"], "--cert-reqs", "optional")
    tls = handshake(server, client_context(ca))
    assert (tls["client_cert_chain"], tls["client_cert_name"]) == ([], None)


def test_optional_client_certificate_is_reported_when_sent(files, ca):
    bob = ca.issue_cert("bob@example.org", common_name="bob")
    server = server_context(files, "--ca-certs", files["ca"], "--cert-reqs", "optional")
    tls = handshake(server, client_context(ca, bob))
    assert tls["client_cert_name"] == subject_of(bob)


def test_no_client_certificate_is_asked_for_by_default(files, ca):
    carol = ca.issue_cert("carol@example.org")
    tls = handshake(server_context(files), client_context(ca, carol))
    assert (tls["client_cert_chain"], tls["client_cert_name"]) == ([], None)


# -- RFC 4514 names ---------------------------------------------------------------------------


def test_rfc4514_name_is_written_last_rdn_first_with_escapes():
    cert = {
        "subject": (
            (("countryName", "US"),),
            (("organizationName", "A;B"),),
            (("organizationalUnitName", " lead"), ("userId", "x")),
            (("commonName", "#1 <ok>\\ "),),
            (("emailAddress", "a@b"),),
        )
    }
    assert _rfc4514_name(cert) == (
        "1.2.840.113549.1.9.1=a@b,CN=\\#1 \\<ok\\>\\\\\\ ,OU=\\ lead+UID=x,O=A\\;B,C=US"
    )


def test_rfc4514_name_of_an_unverified_certificate_is_none():
    assert _rfc4514_name({}) is None
