"""Readers of the files in deploy/: the Dockerfile's instructions, systemd unit sections and the
Kubernetes manifests. Shared by the unit tests that check the files and the integration tests
that run their command lines through ``--check-config``."""

from __future__ import annotations

import fnmatch
import shlex
import tomllib
from pathlib import Path
from typing import Any

from tests.conftest import ROOT

CONTAINER = ROOT / "deploy" / "container"
DOCKERFILE = CONTAINER / "Dockerfile"
DOCKERIGNORE = CONTAINER / ".dockerignore"
UNITS = ROOT / "deploy" / "systemd"
SERVICE = UNITS / "asgi-master.service"
SOCKET = UNITS / "asgi-master.socket"
SYSTEMD_CONFIG = UNITS / "config.toml"
MANIFESTS = ROOT / "deploy" / "kubernetes"


# -- Dockerfile ------------------------------------------------------------------------------


def instructions() -> list[tuple[str, str]]:
    """The Dockerfile as (INSTRUCTION, arguments), continuation lines joined."""
    result: list[tuple[str, str]] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        command, _, args = (pending + line).partition(" ")
        result.append((command.upper(), args.strip()))
        pending = ""
    return result


def final_stage() -> list[tuple[str, str]]:
    """The instructions of the last stage (what the image is)."""
    steps = instructions()
    start = max(i for i, (cmd, _) in enumerate(steps) if cmd == "FROM")
    return steps[start:]


def last(stage: list[tuple[str, str]], command: str) -> str:
    found = [args for cmd, args in stage if cmd == command]
    assert found, f"no {command} in the final stage"
    return found[-1]


def copied_files() -> dict[str, Path]:
    """Destinations in the image of single files COPY'd from the build context (repo root)."""
    files: dict[str, Path] = {}
    for cmd, args in final_stage():
        if cmd != "COPY" or "--from=" in args:
            continue
        parts = [p for p in shlex.split(args) if not p.startswith("--")]
        *sources, dest = parts
        for source in sources:
            files[dest] = ROOT / source
    return files


def dockerignored(path: str) -> bool:
    patterns = [
        p.strip()
        for p in DOCKERIGNORE.read_text().splitlines()
        if p.strip() and not p.startswith("#")
    ]
    return any(fnmatch.fnmatch(path, p) or path.startswith(p.rstrip("/") + "/") for p in patterns)


# -- systemd units ---------------------------------------------------------------------------

Unit = dict[str, dict[str, list[str]]]


def parse_unit(path: Path) -> Unit:
    """A unit file as ``{section: {key: [values]}}`` (keys such as ListenStream repeat)."""
    sections: Unit = {}
    current: dict[str, list[str]] | None = None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None, f"{path}: key outside a section: {line}"
        key, sep, value = line.partition("=")
        assert sep, f"{path}: not a key=value line: {line}"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def one(unit: Unit, section: str, key: str) -> str:
    values = unit[section].get(key)
    assert values, f"[{section}] {key} is missing"
    return values[-1]


# -- Kubernetes manifests --------------------------------------------------------------------


def manifests() -> list[tuple[Path, dict[str, Any]]]:
    """Every document of every manifest (PyYAML comes with kubernetes-validate)."""
    import yaml

    found = []
    for path in sorted(MANIFESTS.glob("*.yaml")):
        found += [(path, doc) for doc in yaml.safe_load_all(path.read_text()) if doc]
    return found


def by_kind() -> dict[str, dict[str, Any]]:
    kinds: dict[str, dict[str, Any]] = {}
    for _, doc in manifests():
        assert doc["kind"] not in kinds, f"two {doc['kind']} manifests"
        kinds[doc["kind"]] = doc
    return kinds


def kubernetes_server_config() -> dict[str, Any]:
    """The config.toml of the ConfigMap."""
    return tomllib.loads(by_kind()["ConfigMap"]["data"]["config.toml"])
