"""A fresh `django-admin startproject` is served as `mysite.asgi:application`, as
docs/migrating.md says."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

pytestmark = pytest.mark.timeout(90)


def test_a_fresh_django_project_serves_its_admin_login_page(start_server, tmp_path):
    created = subprocess.run(
        [sys.executable, "-m", "django", "startproject", "mysite"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert created.returncode == 0, created.stderr
    project = tmp_path / "mysite"  # holds manage.py and the mysite package
    server = start_server(
        "mysite.asgi:application",
        "--app-dir",
        str(project),
        "--workers",
        "1",
        env={"DJANGO_SETTINGS_MODULE": "mysite.settings"},
    )
    server.wait_ready()
    page = httpx.get(server.url("/admin/login/"), timeout=20)
    assert page.status_code == 200
    assert "Django administration" in page.text
    assert httpx.get(server.url("/no-such-page/"), timeout=20).status_code == 404
    assert "Traceback" not in server.log
