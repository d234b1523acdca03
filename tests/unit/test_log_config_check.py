"""log_config tables are checked before dictConfig sees them: every mistake is one line that
starts with the key it is about."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from asgi_master.config.logconfig import LogConfigProblem, check


def problem(table: dict[str, Any]) -> str:
    with pytest.raises(LogConfigProblem) as info:
        check({"version": 1, **table})
    return str(info.value)


def test_a_handler_class_that_does_not_exist():
    assert problem({"handlers": {"file": {"class": "logging.NoSuchHandler"}}}) == (
        'handlers.file.class = "logging.NoSuchHandler": cannot be imported '
        "(module 'logging' has no attribute 'NoSuchHandler')"
    )


def test_a_handler_class_in_a_module_that_does_not_exist():
    assert problem({"handlers": {"h": {"class": "nosuchpkg.Handler"}}}) == (
        "handlers.h.class = \"nosuchpkg.Handler\": cannot be imported (no module named 'nosuchpkg')"
    )


def test_a_handler_class_that_is_not_a_handler():
    assert problem({"handlers": {"h": {"class": "logging.Formatter"}}}) == (
        'handlers.h.class = "logging.Formatter": not a logging.Handler class'
    )


def test_a_handler_without_a_class():
    assert problem({"handlers": {"h": {"level": "INFO"}}}).startswith("handlers.h: needs class")


def test_a_handler_missing_a_constructor_argument():
    assert problem({"handlers": {"f": {"class": "logging.FileHandler"}}}) == (
        "handlers.f: class \"logging.FileHandler\" missing a required argument: 'filename'"
    )


def test_a_misspelt_handler_argument():
    table = {"handlers": {"s": {"class": "logging.StreamHandler", "strem": "ext://sys.stdout"}}}
    assert problem(table) == (
        "handlers.s: class \"logging.StreamHandler\" got an unexpected keyword argument 'strem'"
    )


def test_an_ext_reference_that_does_not_resolve():
    table = {"handlers": {"s": {"class": "logging.StreamHandler", "stream": "ext://sys.stdot"}}}
    assert problem(table) == (
        "handlers.s.stream = \"sys.stdot\": cannot be imported (module 'sys' has no attribute "
        "'stdot')"
    )


def test_a_log_file_in_a_directory_that_does_not_exist(tmp_path):
    missing = tmp_path / "no" / "app.log"
    table = {"handlers": {"f": {"class": "logging.FileHandler", "filename": str(missing)}}}
    assert problem(table) == (f'handlers.f.filename = "{missing}": no directory {missing.parent}')


def test_a_log_file_that_is_a_directory(tmp_path):
    table = {"handlers": {"f": {"class": "logging.FileHandler", "filename": str(tmp_path)}}}
    assert problem(table) == f'handlers.f.filename = "{tmp_path}": is a directory, not a file'


def test_a_formatter_that_is_not_defined():
    table = {"handlers": {"s": {"class": "logging.StreamHandler", "formatter": "fancy"}}}
    assert problem(table) == 'handlers.s.formatter = "fancy": no such formatter'


def test_a_logger_naming_a_handler_that_is_not_defined():
    assert problem({"loggers": {"app": {"handlers": ["file"]}}}) == (
        'loggers.app.handlers: "file": no such handler'
    )


def test_a_level_that_does_not_exist():
    assert problem({"root": {"level": "LOUD"}}).startswith(
        'root.level = "LOUD": expected a level (CRITICAL, FATAL, ERROR, WARNING, INFO, DEBUG'
    )


def test_a_format_string_that_does_not_fit_its_style():
    table = {"formatters": {"f": {"format": "%(message)s", "style": "{"}}}
    assert problem(table).startswith('formatters.f.format = "%(message)s": ')


def test_a_misspelt_top_level_key():
    assert problem({"handler": {}}).startswith("handler: not a dictConfig key")


def test_a_section_that_is_not_a_table():
    assert problem({"handlers": ["console"]}) == "handlers: expected a table of named entries"


def test_a_full_table_passes_and_dictconfig_applies_it(tmp_path: Path):
    table = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"plain": {"format": "{levelname} {message}", "style": "{"}},
        "filters": {"app_only": {"name": "app"}},
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stdout",
                "formatter": "plain",
                "level": "DEBUG",
            },
            "file": {
                "class": "logging.handlers.RotatingFileHandler",
                "filename": str(tmp_path / "app.log"),
                "maxBytes": 1000,
                "backupCount": 2,
                "filters": ["app_only"],
            },
            "buffer": {"class": "logging.handlers.MemoryHandler", "capacity": 10, "target": "file"},
        },
        "loggers": {
            "app": {"handlers": ["console", "buffer"], "level": "INFO", "propagate": False}
        },
        "root": {"level": "WARNING"},
    }
    check(table)
    # applied in a process of its own: dictConfig closes every handler of the process it runs in
    applied = subprocess.run(
        [sys.executable, "-c", APPLY, json.dumps(table)], capture_output=True, text=True, timeout=30
    )
    assert applied.returncode == 0, applied.stderr
    assert applied.stdout == "INFO applied\n"


APPLY = """
import json, logging, logging.config, sys
logging.config.dictConfig(json.loads(sys.argv[1]))
logging.getLogger("app").info("applied")
"""
