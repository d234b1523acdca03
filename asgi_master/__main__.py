"""The command line: ``asgi-master [MODULE:APP] [-c config.toml] [flags]``."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Sequence

from .config import CommandLineError, Config, ConfigError, describe, load
from .config.envfile import EnvFileLoad, load_env_file
from .logs import ERROR_LOGGER
from .logs import configure as configure_logs

log = logging.getLogger(ERROR_LOGGER)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the server (or check the config); returns the exit status."""
    argv = sys.argv[1:] if argv is None else argv
    from .supervisor.upgrade import Launch, take_takeover

    # a master started by SIGUSR2: its hand-over variables are not settings
    takeover = take_takeover(os.environ)
    try:
        invocation = load(argv)
        env_file = load_env_file(invocation.config)
    except ConfigError as exc:
        print(f"asgi-master: error: {exc}", file=sys.stderr)
        if isinstance(exc, CommandLineError):
            print(f"asgi-master: hint: {exc.hint}", file=sys.stderr)
        return 2
    config = invocation.config
    configure_logs(config.log_level, config.access_log, access_json=config.log_format == "json")
    if invocation.check_config:
        return _check(config, env_file)
    _log_env_file(env_file)
    from . import supervisor

    launch = Launch(argv=tuple(argv), cwd=os.getcwd())
    return supervisor.run(config, _reloader(argv, launch.cwd), launch=launch, takeover=takeover)


def _reloader(argv: Sequence[str], start_dir: str) -> Callable[[], Config]:
    """SIGHUP's config loader: reads the config (and ``env_file``) as at start, from the
    directory the server was started in (``chdir`` may have moved the process since)."""

    def reload() -> Config:
        here = os.getcwd()
        os.chdir(start_dir)
        try:
            config = load(argv).config
            _log_env_file(load_env_file(config))
            return config
        finally:
            os.chdir(here)

    return reload


def _env_file_summary(env_file: EnvFileLoad) -> str:
    """What ``env_file`` did, by variable names (never values: they are often secrets)."""
    summary = f"env_file {env_file.path}: set {', '.join(env_file.set_by_file) or 'nothing'}"
    if env_file.kept:
        summary += f"; kept from the environment: {', '.join(env_file.kept)}"
    return summary


def _log_env_file(env_file: EnvFileLoad) -> None:
    if env_file.path is not None:
        log.info("%s", _env_file_summary(env_file))


def _check(config: Config, env_file: EnvFileLoad) -> int:
    from .hooks import check as check_hooks
    from .supervisor.preload import reload_behaviour
    from .worker.app import AppLoadError, load_app

    print(describe(config))
    if env_file.path is not None:
        print(f"# {_env_file_summary(env_file)}")
    try:
        load_app(config.app or "", config.app_dir, config.interface, config.wsgi_threads)
    except AppLoadError as exc:
        print(f"asgi-master: error: {exc}", file=sys.stderr)
        return 2
    problems = check_hooks(config)
    for problem in problems:
        print(f"asgi-master: error: {problem}", file=sys.stderr)
    if problems:
        return 2
    print(f"# configuration valid; app {config.app} imports")
    print(f"# {reload_behaviour(config)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
