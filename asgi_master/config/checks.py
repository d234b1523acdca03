"""Checks across settings, and of the files they name, run once the values are converted.

A value's type is checked where it is read (``types``); what only makes sense with other
settings, or needs the file system (a key without a certificate, a certificate file that is
missing or does not load), is checked here, so ``--check-config`` and the master's start fail
with one line naming the setting instead of every worker failing at boot.
"""

from __future__ import annotations

import importlib.util
import os
import re
import ssl
from collections.abc import Callable
from typing import TYPE_CHECKING, NoReturn

from .envfile import check_env_file
from .errors import ConfigError

if TYPE_CHECKING:
    from .settings import Config

#: TLS settings that mean nothing without ``certfile``
_NEED_CERTFILE = ("keyfile", "keyfile_password", "ca_certs", "ciphers")
_FILES = ("certfile", "keyfile", "ca_certs")


def check(config: Config) -> None:
    """Raise ConfigError for the first problem found across the settings."""
    validate_tls(config)
    validate_log_config(config)
    if config.env_file:
        try:
            check_env_file(config.env_file)
        except ValueError as exc:
            _fail(config, "env_file", str(exc))
    if config.http2_only and not config.http2:
        _fail(config, "http2_only", "needs http2 = true (HTTP/2 alone, with HTTP/2 turned off)")
    if config.reload_watcher == "watchfiles" and importlib.util.find_spec("watchfiles") is None:
        _fail(
            config,
            "reload_watcher",
            "the watchfiles package is not installed (pip install asgi-master[reload])",
        )


def validate_log_config(config: Config) -> None:
    """``log_config`` names a readable TOML/JSON dictConfig table that would apply."""
    if config.log_config:
        try:
            # (imported here: logging.config and its handlers are for this option alone)
            from .logconfig import check as check_log_table
            from .logconfig import read_log_config

            check_log_table(read_log_config(config.log_config))
        except ValueError as exc:
            _fail(config, "log_config", str(exc))


def _fail(config: Config, name: str, problem: str) -> NoReturn:
    value = getattr(config, name)
    shown = '"********"' if name == "keyfile_password" else f'"{value}"'
    where = config.sources.get(name, "default")
    raise ConfigError(f"{where}: {name} = {shown}: {problem}")


def validate_tls(config: Config) -> None:
    """The TLS settings fit together, their files are readable, and they load."""
    if config.certfile is None:
        for name in _NEED_CERTFILE:
            if getattr(config, name) is not None:
                _fail(config, name, "needs certfile (TLS is off without it)")
        if config.cert_reqs != "none":
            _fail(config, "cert_reqs", "needs certfile (TLS is off without it)")
        return
    for name in _FILES:
        path = getattr(config, name)
        if path is not None:
            problem = _unreadable(path)
            if problem:
                _fail(config, name, problem)
    if config.cert_reqs != "none" and config.ca_certs is None:
        _fail(
            config,
            "cert_reqs",
            "needs ca_certs, the CA certificates that client certificates are verified against",
        )
    _try_loading(config)


def _unreadable(path: str) -> str | None:
    if not os.path.exists(path):
        return "no such file"
    if os.path.isdir(path):
        return "is a directory, not a file"
    if not os.access(path, os.R_OK):
        return "not readable by this user"
    return None


def _try_loading(config: Config) -> None:
    """Load everything the way the workers will, to name the setting that does not load."""
    certfile = config.certfile
    assert certfile is not None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_verify_locations(cafile=certfile)
    except ssl.SSLError:
        _fail(config, "certfile", "no PEM certificate in the file")
    try:
        context.load_cert_chain(certfile, config.keyfile, password=_password(config))
    except ssl.SSLError as exc:
        key_setting = "keyfile" if config.keyfile is not None else "certfile"
        if _encrypted(config.keyfile or certfile):
            if config.keyfile_password is None:
                _fail(config, key_setting, "the private key is encrypted; set keyfile_password")
            _fail(config, "keyfile_password", "does not decrypt the private key")
        _fail(
            config,
            key_setting,
            f"no private key, or one that does not match the certificate ({_reason(exc)})",
        )
    if config.ca_certs is not None:
        try:
            context.load_verify_locations(cafile=config.ca_certs)
        except ssl.SSLError as exc:
            _fail(config, "ca_certs", f"no PEM CA certificates in the file ({_reason(exc)})")
    if config.ciphers is not None:
        try:
            context.set_ciphers(config.ciphers)
        except ssl.SSLError:
            _fail(config, "ciphers", "selects no cipher OpenSSL knows")


def _password(config: Config) -> str | Callable[[], str]:
    # without a password, answer empty rather than let OpenSSL prompt on the terminal
    password = config.keyfile_password
    return password if password is not None else (lambda: "")


def _encrypted(path: str) -> bool:
    """Whether a PEM file holds an encrypted private key (PKCS#8 or the older OpenSSL form)."""
    with open(path, encoding="ascii", errors="replace") as fh:
        text = fh.read()
    return "BEGIN ENCRYPTED PRIVATE KEY" in text or "Proc-Type: 4,ENCRYPTED" in text


def _reason(exc: ssl.SSLError) -> str:
    """OpenSSL's words without the source location: ``[SSL] PEM lib (_ssl.c:3926)``."""
    text = str(exc.args[1] if len(exc.args) > 1 else exc)
    return re.sub(r"\s*\(_ssl\.c:\d+\)", "", text)
