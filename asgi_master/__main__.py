"""The command line: ``asgi-master [MODULE:APP] [-c config.toml] [flags]``."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence

from .config import CommandLineError, Config, ConfigError, describe, load
from .logs import configure as configure_logs


def main(argv: Sequence[str] | None = None) -> int:
    """Run the server (or check the config); returns the exit status."""
    argv = sys.argv[1:] if argv is None else argv
    from .supervisor.upgrade import Launch, take_takeover

    # a master started by SIGUSR2: its hand-over variables are not settings
    takeover = take_takeover(os.environ)
    try:
        invocation = load(argv)
    except ConfigError as exc:
        print(f"asgi-master: error: {exc}", file=sys.stderr)
        if isinstance(exc, CommandLineError):
            print(f"asgi-master: hint: {exc.hint}", file=sys.stderr)
        return 2
    config = invocation.config
    configure_logs(config.log_level, config.access_log, access_json=config.log_format == "json")
    if invocation.check_config:
        return _check(invocation.config)
    from . import supervisor

    launch = Launch(argv=tuple(argv), cwd=os.getcwd())
    return supervisor.run(config, _reloader(argv, launch.cwd), launch=launch, takeover=takeover)


def _reloader(argv: Sequence[str], start_dir: str) -> Callable[[], Config]:
    """SIGHUP's config loader: reads the config as at start, from the directory the server
    was started in (``chdir`` may have moved the process since)."""

    def reload() -> Config:
        here = os.getcwd()
        os.chdir(start_dir)
        try:
            return load(argv).config
        finally:
            os.chdir(here)

    return reload


def _check(config: object) -> int:
    from .worker.app import AppLoadError, load_app

    assert isinstance(config, Config)
    print(describe(config))
    try:
        load_app(config.app or "", config.app_dir, config.interface, config.wsgi_threads)
    except AppLoadError as exc:
        print(f"asgi-master: error: {exc}", file=sys.stderr)
        return 2
    print(f"# configuration valid; app {config.app} imports")
    return 0


if __name__ == "__main__":
    sys.exit(main())
