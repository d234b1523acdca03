"""Settings for proxy headers, the access-log format and TLS: conversion and load-time checks."""

from __future__ import annotations

from pathlib import Path

import pytest
import trustme
from cryptography.hazmat.primitives import serialization

from asgi_master.config import ConfigError, describe, load
from asgi_master.config.cli import build_parser

APP = "tests.apps.basic:app"


def test_proxy_defaults_trust_only_localhost():
    config = load([APP], {}).config
    assert config.proxy_headers is True
    assert config.forwarded_allow_ips == ["127.0.0.1"]


def test_forwarded_allow_ips_from_env_is_comma_separated():
    env = {"ASGI_MASTER_FORWARDED_ALLOW_IPS": "10.0.0.0/8, ::1,192.168.1.7"}
    assert load([APP], env).config.forwarded_allow_ips == ["10.0.0.0/8", "::1", "192.168.1.7"]


def test_forwarded_allow_ips_flag_repeats_and_accepts_a_wildcard():
    config = load(
        [APP, "--forwarded-allow-ips", "*", "--forwarded-allow-ips", "fd00::/8"], {}
    ).config
    assert config.forwarded_allow_ips == ["*", "fd00::/8"]


def test_forwarded_allow_ips_names_the_bad_entry(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(f'app = "{APP}"\nforwarded_allow_ips = ["10.0.0.1", "proxy.local"]\n')
    with pytest.raises(ConfigError) as info:
        load(["-c", str(path)], {})
    assert str(info.value) == (
        f'{path}:2: forwarded_allow_ips = "proxy.local": expected an IP address, a CIDR '
        'network such as "10.0.0.0/8", or "*"'
    )


def test_access_log_format_with_an_unknown_atom_is_refused():
    with pytest.raises(
        ConfigError,
        match=r"flag --access-log-format: access_log_format = "
        r'"%\(h\)s %\(z\)s": expected known atoms .*'
        r"not %\(z\)s$",
    ):
        load([APP, "--access-log-format", "%(h)s %(z)s"], {})


def test_log_format_is_text_or_json():
    assert load([APP, "--log-format", "JSON"], {}).config.log_format == "json"
    with pytest.raises(ConfigError, match="expected one of text, json"):
        load([APP, "--log-format", "xml"], {})


def test_help_renders_although_help_texts_contain_percent_signs():
    assert "%(h)s" in build_parser().format_help()


# -- TLS --------------------------------------------------------------------------------------


@pytest.fixture
def tls_files(tmp_path: Path) -> dict[str, str]:
    ca = trustme.CA()
    leaf = ca.issue_cert("localhost")
    files = {
        "cert": tmp_path / "cert.pem",
        "key": tmp_path / "key.pem",
        "ca": tmp_path / "ca.pem",
        "junk": tmp_path / "junk.pem",
        "other_key": tmp_path / "other.pem",
        "encrypted": tmp_path / "encrypted.pem",
        "combined": tmp_path / "both.pem",
    }
    leaf.cert_chain_pems[0].write_to_path(str(files["cert"]))
    leaf.private_key_pem.write_to_path(str(files["key"]))
    ca.cert_pem.write_to_path(str(files["ca"]))
    files["junk"].write_text("not a certificate\n")
    ca.issue_cert("elsewhere").private_key_pem.write_to_path(str(files["other_key"]))
    key = serialization.load_pem_private_key(leaf.private_key_pem.bytes(), None)
    files["encrypted"].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"pw"),
        )
    )
    files["combined"].write_bytes(leaf.private_key_pem.bytes() + leaf.cert_chain_pems[0].bytes())
    return {k: str(v) for k, v in files.items()}


def error_of(*flags: str, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        load([APP, *flags], env or {})
    return str(info.value)


def test_valid_tls_settings_load(tls_files):
    config = load(
        [
            APP,
            "--certfile",
            tls_files["cert"],
            "--keyfile",
            tls_files["key"],
            "--ca-certs",
            tls_files["ca"],
            "--cert-reqs",
            "required",
        ],
        {},
    ).config
    assert (config.certfile, config.cert_reqs, config.tls_min_version) == (
        tls_files["cert"],
        "required",
        "1.2",
    )


def test_key_in_the_certificate_file_needs_no_keyfile(tls_files):
    assert load([APP, "--certfile", tls_files["combined"]], {}).config.keyfile is None


def test_keyfile_without_certfile_is_an_error(tls_files):
    assert error_of("--keyfile", tls_files["key"]) == (
        f'flag --keyfile: keyfile = "{tls_files["key"]}": needs certfile (TLS is off without it)'
    )


def test_client_certificates_without_certfile_are_an_error():
    assert error_of("--cert-reqs", "required").endswith(
        'cert_reqs = "required": needs certfile (TLS is off without it)'
    )


def test_missing_certfile_names_the_setting_and_its_source(tls_files):
    env = {"ASGI_MASTER_CERTFILE": "/nonexistent/cert.pem"}
    assert error_of(env=env) == (
        'env ASGI_MASTER_CERTFILE: certfile = "/nonexistent/cert.pem": no such file'
    )


def test_directory_as_keyfile_is_an_error(tls_files, tmp_path):
    message = error_of("--certfile", tls_files["cert"], "--keyfile", str(tmp_path))
    assert message.endswith("is a directory, not a file")


def test_certfile_without_a_certificate_is_an_error(tls_files):
    message = error_of("--certfile", tls_files["junk"], "--keyfile", tls_files["key"])
    assert message.endswith(f'certfile = "{tls_files["junk"]}": no PEM certificate in the file')


def test_key_that_does_not_match_the_certificate_is_an_error(tls_files):
    message = error_of("--certfile", tls_files["cert"], "--keyfile", tls_files["other_key"])
    assert "keyfile = " in message and "does not match the certificate" in message
    assert "key values mismatch" in message and "_ssl.c" not in message


def test_encrypted_key_without_password_is_an_error_not_a_prompt(tls_files):
    message = error_of("--certfile", tls_files["cert"], "--keyfile", tls_files["encrypted"])
    assert message.endswith("the private key is encrypted; set keyfile_password")


def test_wrong_password_is_named_without_showing_it(tls_files):
    message = error_of(
        "--certfile",
        tls_files["cert"],
        "--keyfile",
        tls_files["encrypted"],
        env={"ASGI_MASTER_KEYFILE_PASSWORD": "wrong"},
    )
    assert message == (
        'env ASGI_MASTER_KEYFILE_PASSWORD: keyfile_password = "********": '
        "does not decrypt the private key"
    )


def test_client_certificates_need_ca_certs(tls_files):
    message = error_of(
        "--certfile", tls_files["cert"], "--keyfile", tls_files["key"], "--cert-reqs", "optional"
    )
    assert 'cert_reqs = "optional": needs ca_certs' in message


def test_ca_certs_without_certificates_is_an_error(tls_files):
    message = error_of(
        "--certfile",
        tls_files["cert"],
        "--keyfile",
        tls_files["key"],
        "--ca-certs",
        tls_files["junk"],
    )
    assert f'ca_certs = "{tls_files["junk"]}": no PEM CA certificates' in message


def test_cipher_list_that_selects_nothing_is_an_error(tls_files):
    message = error_of(
        "--certfile",
        tls_files["cert"],
        "--keyfile",
        tls_files["key"],
        "--ciphers",
        "NO-SUCH-CIPHER",
    )
    assert message.endswith('ciphers = "NO-SUCH-CIPHER": selects no cipher OpenSSL knows')


def test_tls_min_version_accepts_a_toml_number(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(f'app = "{APP}"\ntls_min_version = 1.3\n')
    assert load(["-c", str(path)], {}).config.tls_min_version == "1.3"


def test_check_config_masks_the_key_password(tls_files):
    config = load(
        [APP, "--certfile", tls_files["cert"], "--keyfile", tls_files["encrypted"]],
        {"ASGI_MASTER_KEYFILE_PASSWORD": "pw"},
    ).config
    text = describe(config)
    assert 'keyfile_password = "********"' in text and 'pw"' not in text
