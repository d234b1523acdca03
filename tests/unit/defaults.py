"""The worker's settings objects as a test wants them: built from the settings table's defaults
(config/settings.py, where every default is declared once), with the overrides a test names."""

from __future__ import annotations

import dataclasses
from typing import Any

from asgi_master.config import Config
from asgi_master.worker.context import WebSocketSettings, WorkerSettings
from asgi_master.worker.http.limits import Limits


def limits(**overrides: Any) -> Limits:
    """``Limits`` of the default config, with ``overrides`` (``max_line=...``)."""
    return dataclasses.replace(Limits.from_config(Config()), **overrides)


def websocket_settings(**overrides: Any) -> WebSocketSettings:
    """``WebSocketSettings`` of the default config, with ``overrides``."""
    return dataclasses.replace(WebSocketSettings.from_config(Config()), **overrides)


def worker_settings(**config: Any) -> WorkerSettings:
    """``WorkerSettings`` of a config whose settings ``config`` names (``root_path="/api"``,
    ``access_log=False``...) differ from the defaults."""
    return WorkerSettings.from_config(Config(**config))
