"""How the worker finds the app's interface: WSGI or ASGI 3 from the callable's signature, an
explicit ``interface`` over the guess, and the WSGI adapter."""

from __future__ import annotations

import sys

import pytest

from asgi_master.worker.app import AppLoadError, load_app
from asgi_master.worker.wsgi import detect_interface


def wsgi_function(environ, start_response):
    start_response("200 OK", [])
    return [b""]


async def asgi_function(scope, receive, send):
    pass


class WSGICallable:
    def __call__(self, environ, start_response):
        return wsgi_function(environ, start_response)


class ASGICallable:
    async def __call__(self, scope, receive, send):
        pass


def star_args(*args):
    pass


@pytest.mark.parametrize(
    ("app", "expected"),
    [
        (wsgi_function, "wsgi"),
        (WSGICallable(), "wsgi"),
        (asgi_function, "asgi3"),
        (ASGICallable(), "asgi3"),
        (star_args, "asgi3"),
    ],
)
def test_interface_auto_tells_wsgi_from_asgi_by_signature(app, expected):
    assert detect_interface(app) == expected


def test_auto_wraps_a_wsgi_callable_and_leaves_asgi_alone():
    pytest.importorskip("a2wsgi", reason="a2wsgi is not installed (extra 'wsgi')")
    assert load_app("tests.unit.test_app_interface:asgi_function") is asgi_function
    wrapped = load_app("tests.unit.test_app_interface:wsgi_function", wsgi_threads=3)
    assert wrapped is not wsgi_function
    assert detect_interface(wrapped) == "asgi3"


def test_explicit_interface_overrides_the_guess():
    assert (
        load_app("tests.unit.test_app_interface:wsgi_function", interface="asgi3") is wsgi_function
    )


def test_wsgi_app_without_a2wsgi_is_a_one_line_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "a2wsgi", None)  # import a2wsgi -> ImportError
    with pytest.raises(AppLoadError) as err:
        load_app("tests.unit.test_app_interface:wsgi_function", interface="wsgi")
    message = str(err.value)
    assert "\n" not in message
    assert "pip install 'asgi-master[wsgi]'" in message
    assert "interface = wsgi" in message


def make_app():
    return asgi_function


def make_nothing():
    return None


def test_a_factory_is_called_and_its_app_is_served():
    assert load_app("tests.unit.test_app_interface:make_app", factory=True) is asgi_function


def test_a_factory_that_returns_no_app_is_a_one_line_error():
    with pytest.raises(AppLoadError) as err:
        load_app("tests.unit.test_app_interface:make_nothing", factory=True)
    assert str(err.value) == (
        "app factory 'tests.unit.test_app_interface:make_nothing' returned a NoneType, "
        "not an ASGI or WSGI app"
    )


def test_a_preloaded_object_is_used_instead_of_importing():
    assert load_app("no.such.module:app", preloaded=asgi_function) is asgi_function
