"""asgi-master: a pre-fork server for ASGI applications."""

from . import _build

__version__ = "0.1.0"

# before any hot module is imported: decides whether they load compiled or from source
_build.activate()


def version_line() -> str:
    """``asgi-master <version> (<build>)``: what ``--version`` prints and the master logs."""
    return f"asgi-master {__version__} ({_build.describe()})"
