"""The command lines in deploy/ are valid invocations, run as real processes: the container
image's CMD, the systemd service's ExecStart (and `systemd-analyze verify` on its units), the
Kubernetes ConfigMap's config, each through ``asgi-master --check-config``."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from asgi_master.config.settings import BY_NAME
from tests.conftest import ROOT, run_cli
from tests.deploy_files import (
    SERVICE,
    SOCKET,
    SYSTEMD_CONFIG,
    by_kind,
    copied_files,
    final_stage,
    kubernetes_server_config,
    last,
    one,
    parse_unit,
)

pytestmark = pytest.mark.timeout(90)


def test_the_image_command_is_a_valid_invocation():
    # ENTRYPOINT + CMD, with the config file the image has at that path; the WORKDIR (/app)
    # holds the copied examples/ as the repository root does
    cmd = json.loads(last(final_stage(), "CMD"))
    files = copied_files()
    args = [str(files[a]) if a in files else a for a in cmd]
    assert args != cmd, "the CMD names the config file the image copies"
    result = run_cli(*args, "--check-config")
    assert result.returncode == 0, result.stderr
    assert "configuration valid" in result.stdout
    assert 'workers = "auto"' in result.stdout


def test_execstart_reads_the_config_and_the_example_config_is_valid():
    argv = shlex.split(one(parse_unit(SERVICE), "Service", "ExecStart"))
    assert Path(argv[0]).name == "asgi-master"
    assert argv[1:] == ["-c", "/etc/asgi-master/config.toml"]
    # the same command with the example config (its app swapped for the bundled example)
    result = run_cli(
        "-c",
        str(SYSTEMD_CONFIG),
        "--check-config",
        env={"ASGI_MASTER_APP": "examples.hello:app", "ASGI_MASTER_APP_DIR": "."},
    )
    assert result.returncode == 0, result.stderr
    assert "configuration valid" in result.stdout


@pytest.mark.skipif(
    shutil.which("systemd-analyze") is None,
    reason="systemd-analyze is not installed (package systemd)",
)
def test_systemd_analyze_verify_accepts_the_units(tmp_path):
    # verify checks that ExecStart's binary exists and is executable: point it at this venv's
    asgi_master = Path(shutil.which("asgi-master") or ROOT / ".venv" / "bin" / "asgi-master")
    if not asgi_master.exists():
        pytest.skip("no asgi-master executable to stand in for ExecStart's path")
    text = SERVICE.read_text()
    original = shlex.split(one(parse_unit(SERVICE), "Service", "ExecStart"))[0]
    (tmp_path / SERVICE.name).write_text(text.replace(original, str(asgi_master)))
    shutil.copy(SOCKET, tmp_path / SOCKET.name)
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", f"./{SERVICE.name}", f"./{SOCKET.name}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    output = result.stdout + result.stderr
    if result.returncode != 0 and "asgi-master" not in output:
        pytest.skip(f"systemd-analyze cannot run here: {output.strip()[:200]}")
    # unknown keys and bad values are warnings with status 0: the output must be empty too
    problems = [line for line in output.splitlines() if "asgi-master" in line]
    assert result.returncode == 0 and not problems, output


def test_configmap_config_passes_check_config(tmp_path):
    pytest.importorskip("yaml", reason="PyYAML is not installed (comes with kubernetes-validate)")
    missing = [k for k in kubernetes_server_config() if k not in BY_NAME]
    if missing:
        pytest.skip(f"settings not implemented yet: {', '.join(missing)}")
    path = tmp_path / "config.toml"
    path.write_text(by_kind()["ConfigMap"]["data"]["config.toml"])
    result = run_cli(
        "-c", str(path), "--check-config", env={"ASGI_MASTER_APP": "examples.hello:app"}
    )
    assert result.returncode == 0, result.stderr
