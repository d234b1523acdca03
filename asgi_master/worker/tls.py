"""TLS: the server's ``ssl.SSLContext`` from the settings, and the ASGI ``tls`` scope extension.

The settings are checked when the configuration is loaded (``config.checks``), so a worker
building its context here meets only files that existed and parsed a moment ago.
"""

from __future__ import annotations

import _ssl
import ssl
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from ..config import Config

_CERT_REQS: Final = {
    "none": ssl.CERT_NONE,
    "optional": ssl.CERT_OPTIONAL,
    "required": ssl.CERT_REQUIRED,
}
_MIN_VERSION: Final = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}
#: ``SSLObject.version()`` -> the protocol version number the ASGI extension reports
_VERSION_NUMBERS: Final = {
    "TLSv1.3": 0x0304,
    "TLSv1.2": 0x0303,
    "TLSv1.1": 0x0302,
    "TLSv1": 0x0301,
    "SSLv3": 0x0300,
}
#: RFC 4514 section 3: attribute types written by their short name
_RFC4514_NAMES: Final = {
    "commonName": "CN",
    "localityName": "L",
    "stateOrProvinceName": "ST",
    "organizationName": "O",
    "organizationalUnitName": "OU",
    "countryName": "C",
    "streetAddress": "STREET",
    "domainComponent": "DC",
    "userId": "UID",
}
_PEM_END: Final = "-----END CERTIFICATE-----"


class ServerSSLContext(ssl.SSLContext):
    """An ``SSLContext`` that also remembers what the ``tls`` extension reports about it."""

    #: PEM of the certificate this server presents (the first one of ``certfile``)
    server_cert_pem: str | None = None
    #: OpenSSL cipher name -> IANA cipher suite number, filled on first use
    cipher_ids: dict[str, int] | None = None


def _password(password: str | None) -> str | Callable[[], str]:
    """The ``password`` argument for ``load_cert_chain``: the configured one, or a callback
    answering empty, so an encrypted key without a password fails instead of making OpenSSL
    prompt on the terminal."""
    return password if password is not None else (lambda: "")


def build_ssl_context(config: Config) -> ssl.SSLContext | None:
    """The server context for ``config``, or None when TLS is off (no ``certfile``)."""
    if config.certfile is None:
        return None
    context = ServerSSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = _MIN_VERSION[config.tls_min_version]
    # client-initiated renegotiation costs the server a handshake per request: refuse it
    context.options |= ssl.OP_NO_RENEGOTIATION
    context.load_cert_chain(
        config.certfile, config.keyfile, password=_password(config.keyfile_password)
    )
    if config.ca_certs is not None:
        context.load_verify_locations(cafile=config.ca_certs)
    context.verify_mode = _CERT_REQS[config.cert_reqs]
    if config.ciphers is not None:
        context.set_ciphers(config.ciphers)
    # HTTP/2 first: a client offering both gets it (RFC 7301: the server chooses)
    if config.http2_only:
        context.set_alpn_protocols(["h2"])
    else:
        context.set_alpn_protocols(["h2", "http/1.1"] if config.http2 else ["http/1.1"])
    context.server_cert_pem = first_certificate(config.certfile)
    return context


def first_certificate(path: str) -> str | None:
    """The first PEM certificate in a file (the server's own, before any chain)."""
    with open(path, encoding="ascii", errors="replace") as fh:
        text = fh.read()
    start = text.find("-----BEGIN CERTIFICATE-----")
    end = text.find(_PEM_END, start)
    if start < 0 or end < 0:
        return None
    # normalised through DER, so it reads exactly as ssl writes PEM
    return ssl.DER_cert_to_PEM_cert(ssl.PEM_cert_to_DER_cert(text[start : end + len(_PEM_END)]))


def tls_scope_extension(ssl_object: ssl.SSLObject | ssl.SSLSocket) -> dict[str, Any]:
    """``scope["extensions"]["tls"]`` for a connection (ASGI TLS extension 0.2)."""
    peer_der = ssl_object.getpeercert(binary_form=True)
    cipher = ssl_object.cipher()
    version = ssl_object.version()
    return {
        "server_cert": getattr(ssl_object.context, "server_cert_pem", None),
        "client_cert_chain": _client_chain(ssl_object, peer_der),
        "client_cert_name": _rfc4514_name(ssl_object.getpeercert()) if peer_der else None,
        # a client certificate that fails verification fails the handshake: no connection
        # exists to report the error on
        "client_cert_error": None,
        "tls_version": _VERSION_NUMBERS.get(version) if version else None,
        "cipher_suite": _cipher_suite(ssl_object.context, cipher[0]) if cipher else None,
    }


def _client_chain(ssl_object: ssl.SSLObject | ssl.SSLSocket, peer_der: bytes | None) -> list[str]:
    """The certificates the client sent, its own first (ASGI TLS: the chain as sent, not the
    one verification built, which would add the trusted root)."""
    if not peer_der:
        return []
    return [ssl.DER_cert_to_PEM_cert(der) for der in _chain_as_sent(ssl_object)] or [
        ssl.DER_cert_to_PEM_cert(peer_der)
    ]


def _chain_as_sent(ssl_object: ssl.SSLObject | ssl.SSLSocket) -> list[bytes]:
    """DER of the peer's chain as sent (``SSL_get_peer_cert_chain``, with the peer's own
    certificate put first on the server side); empty if the ssl module cannot tell."""
    public = getattr(ssl_object, "get_unverified_chain", None)
    if public is not None:  # Python 3.13+: a list of DER bytes
        return [bytes(der) for der in public() or ()]
    # Python 3.10 to 3.12 have the same call on the C object only, giving Certificate objects;
    # without it the chain would be just the peer's certificate on those versions
    native = getattr(getattr(ssl_object, "_sslobj", None), "get_unverified_chain", None)
    if native is None:
        return []
    return [cert.public_bytes(_ssl.ENCODING_DER) for cert in native() or ()]


def _cipher_suite(context: ssl.SSLContext, name: str) -> int | None:
    """The IANA number of an OpenSSL cipher name (OpenSSL ids carry 0x0300 above it)."""
    ids = getattr(context, "cipher_ids", None)
    if ids is None:
        ids = {c["name"]: c["id"] & 0xFFFF for c in context.get_ciphers()}
        if isinstance(context, ServerSSLContext):
            context.cipher_ids = ids
    return ids.get(name)


def _rfc4514_name(cert: Any) -> str | None:
    """The subject of a verified peer certificate as an RFC 4514 string (``CN=x,O=y,C=z``)."""
    subject = cert.get("subject") if cert else None
    if not subject:
        return None
    rdns = [
        "+".join(f"{_attribute_type(key)}={_escape_dn_value(value)}" for key, value in rdn)
        for rdn in subject
    ]
    return ",".join(reversed(rdns))  # RFC 4514 writes the last RDN first


def _attribute_type(name: str) -> str:
    short = _RFC4514_NAMES.get(name)
    if short is not None:
        return short
    try:
        return ssl._ASN1Object.fromname(name).oid
    except ValueError:
        return name


def _escape_dn_value(value: str) -> str:
    """RFC 4514 section 2.4 escaping of an attribute value."""
    out = []
    for index, char in enumerate(value):
        if (
            char in '"+,;<>\\'
            or (char == "#" and index == 0)
            or (char == " " and index in (0, len(value) - 1))
        ):
            out.append("\\" + char)
        elif char == "\x00":
            out.append("\\00")
        else:
            out.append(char)
    return "".join(out)
