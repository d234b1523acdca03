"""deploy/kubernetes/: every manifest validates against the Kubernetes schemas (offline, with
kubernetes-validate), and the pieces fit together: probes on the health paths of the ConfigMap's
config.toml, a grace period above shutdown_delay + graceful_timeout, a locked-down pod. (The
ConfigMap's config through ``--check-config``: tests/integration/test_deploy_commands.py.)"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.deploy_files import by_kind, manifests
from tests.deploy_files import kubernetes_server_config as server_config

yaml = pytest.importorskip(
    "yaml", reason="PyYAML is not installed (comes with kubernetes-validate, extra 'test')"
)
kubernetes_validate = pytest.importorskip(
    "kubernetes_validate", reason="kubernetes-validate is not installed (extra 'test')"
)


def container() -> dict[str, Any]:
    containers = by_kind()["Deployment"]["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def validate(doc: dict[str, Any]) -> None:
    kubernetes_validate.validate(doc, kubernetes_validate.latest_version(), strict=True)


@pytest.mark.parametrize("path_doc", manifests(), ids=lambda pd: f"{pd[0].name}:{pd[1]['kind']}")
def test_manifest_is_valid_against_the_kubernetes_schema(path_doc):
    validate(path_doc[1])


def test_strict_validation_catches_a_misspelt_field():
    deployment = copy.deepcopy(by_kind()["Deployment"])
    deployment["spec"]["template"]["spec"]["terminationGracePeriod"] = 45
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(deployment)


def test_all_the_pieces_are_there():
    kinds = by_kind()
    assert set(kinds) == {
        "ConfigMap",
        "Deployment",
        "Service",
        "PodDisruptionBudget",
        "HorizontalPodAutoscaler",
    }
    assert kinds["HorizontalPodAutoscaler"]["apiVersion"] == "autoscaling/v2"
    assert kinds["PodDisruptionBudget"]["apiVersion"] == "policy/v1"


def test_selectors_and_references_match_the_pods():
    kinds = by_kind()
    deployment = kinds["Deployment"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert kinds["Service"]["spec"]["selector"].items() <= labels.items()
    assert kinds["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"].items() <= labels.items()
    target = kinds["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    volumes = deployment["spec"]["template"]["spec"]["volumes"]
    assert {"name": kinds["ConfigMap"]["metadata"]["name"]} in [v.get("configMap") for v in volumes]
    port_names = {p["name"] for p in container()["ports"]}
    assert kinds["Service"]["spec"]["ports"][0]["targetPort"] in port_names


def test_probes_use_the_health_paths_of_the_config():
    config = server_config()
    c = container()
    assert c["readinessProbe"]["httpGet"]["path"] == config["health_ready_path"] == "/readyz"
    assert c["livenessProbe"]["httpGet"]["path"] == config["health_live_path"] == "/livez"
    assert c["startupProbe"]["httpGet"]["path"] == config["health_live_path"]
    port = int(config["bind"][0].rsplit(":", 1)[1])
    assert [p["containerPort"] for p in c["ports"]] == [port]


def test_grace_period_is_above_shutdown_delay_plus_graceful_timeout():
    config = server_config()
    grace = by_kind()["Deployment"]["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace > config["shutdown_delay"] + config["graceful_timeout"]


def test_pod_runs_non_root_read_only_without_capabilities():
    pod = by_kind()["Deployment"]["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    security = container()["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    resources = container()["resources"]
    assert {"cpu", "memory"} <= resources["limits"].keys()
    assert {"cpu", "memory"} <= resources["requests"].keys()


def test_config_uses_auto_workers_and_the_container_command_reads_it():
    assert server_config()["workers"] == "auto"
    mount = next(m for m in container()["volumeMounts"] if m["name"] == "config")
    assert container()["args"] == ["-c", f"{mount['mountPath']}/config.toml"]
