"""The command line: ``asgi-master [MODULE:APP] [-c config.toml] [flags]``."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from .config import ConfigError, describe, load
from .logs import configure as configure_logs


def main(argv: Sequence[str] | None = None) -> int:
    """Run the server (or check the config); returns the exit status."""
    argv = sys.argv[1:] if argv is None else argv
    try:
        invocation = load(argv)
    except ConfigError as exc:
        print(f"asgi-master: error: {exc}", file=sys.stderr)
        return 2
    config = invocation.config
    configure_logs(config.log_level, config.access_log)
    if invocation.check_config:
        return _check(invocation.config)
    from . import supervisor

    return supervisor.run(config, lambda: load(argv).config)


def _check(config: object) -> int:
    from .config import Config
    from .worker.app import AppLoadError, load_app

    assert isinstance(config, Config)
    print(describe(config))
    try:
        load_app(config.app or "", config.app_dir)
    except AppLoadError as exc:
        print(f"asgi-master: error: {exc}", file=sys.stderr)
        return 2
    print(f"# configuration valid; app {config.app} imports")
    return 0


if __name__ == "__main__":
    sys.exit(main())
