"""One worker process: event loop, lifespan, HTTP/1.1, drain. The master calls ``run_worker``
(and, with ``preload_app``, ``import_app`` to hold the app before forking)."""

from .app import AppLoadError, import_app
from .process import EXIT_APP_IMPORT, EXIT_BOOT_FAILED, EXIT_OK, run_worker

__all__ = [
    "EXIT_APP_IMPORT",
    "EXIT_BOOT_FAILED",
    "EXIT_OK",
    "AppLoadError",
    "import_app",
    "run_worker",
]
