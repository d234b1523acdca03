"""deploy/grafana/asgi-master.json: a dashboard Grafana imports, whose every query names a
metric that a real server's endpoint exports (scraped here)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import ROOT, free_port, wait_for

pytestmark = pytest.mark.timeout(60)

DASHBOARD = ROOT / "deploy" / "grafana" / "asgi-master.json"

#: PromQL words that are not metric names
_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool"}
_KEYWORDS |= {"and", "or", "unless", "inf", "nan"}


def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def queries(board: dict[str, Any]) -> Iterator[str]:
    for panel in board["panels"]:
        for target in panel["targets"]:
            yield target["expr"]
    for variable in board["templating"]["list"]:
        yield variable["query"]["query"]


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads: label matchers, ranges, grouping clauses,
    strings, numbers and function calls taken out."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)
    text = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", text)
    text = re.sub(r"\b(?:by|without|on|ignoring)\s*\([^)]*\)", " ", text)
    text = re.sub(r"\blabel_values\s*\(\s*([a-zA-Z_:][\w:]*)\s*,[^)]*\)", r"\1", text)
    names = set()
    for match in re.finditer(r"[a-zA-Z_:][\w:]*", text):
        rest = text[match.end() :].lstrip()
        word = match.group(0)
        if rest.startswith("(") or word.lower() in _KEYWORDS or word.startswith("$"):
            continue
        names.add(word)
    return names


def exported(exposition: str) -> set[str]:
    """Series names the endpoint offers: every ``# TYPE`` family (histograms with their
    ``_bucket``, ``_sum`` and ``_count``)."""
    names = set()
    for name, kind in re.findall(r"^# TYPE (\S+) (\S+)$", exposition, re.MULTILINE):
        names.add(name)
        if kind == "histogram":
            names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
    return names


def test_metric_names_are_read_from_promql():
    assert metric_names(
        'histogram_quantile(0.95, sum by (le) (rate(x_bucket{a=~"$i"}[$__rate_interval])))'
    ) == {"x_bucket"}
    assert metric_names("sum(rate(a_total[1m])) / sum(rate(b_count[1m]))") == {"a_total", "b_count"}
    assert metric_names("label_values(t, instance)") == {"t"}


def test_every_query_names_a_metric_the_endpoint_exports(start_server):
    port = free_port()
    server = start_server(
        "tests.apps.basic:app", "--workers", "2", "--metrics-bind", f"127.0.0.1:{port}"
    )
    server.wait_ready(workers=2)
    for _ in range(5):
        httpx.get(server.url("/"))
    url = f"http://127.0.0.1:{port}/metrics"
    wait_for(lambda: "asgi_master_requests_total 5" in httpx.get(url).text, 10, what="stats")
    offered = exported(httpx.get(url).text)
    board = dashboard()
    used: set[str] = set()
    for expr in queries(board):
        names = metric_names(expr)
        assert names, f"no metric in {expr!r}"
        assert names <= offered, f"{expr!r} reads {sorted(names - offered)}, not exported"
        used |= names
    # the pictures the dashboard promises
    for wanted in (
        "asgi_master_requests_total",
        "asgi_master_request_duration_seconds_bucket",
        "asgi_master_workers_by_generation",
        "asgi_master_worker_exits_total",
        "asgi_master_worker_recycles_total",
        "asgi_master_worker_rss_bytes",
    ):
        assert wanted in used, wanted


def test_the_dashboard_is_an_importable_grafana_dashboard():
    board = dashboard()
    (source,) = board["__inputs"]
    assert (source["type"], source["pluginId"]) == ("datasource", "prometheus")
    datasource = {"type": "prometheus", "uid": "${" + source["name"] + "}"}
    assert board["uid"] and board["title"] and isinstance(board["schemaVersion"], int)
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids))
    cells: set[tuple[int, int]] = set()
    for panel in board["panels"]:
        assert panel["type"] in {"timeseries", "heatmap"}, panel["type"]
        assert panel["datasource"] == datasource
        assert all(target["datasource"] == datasource for target in panel["targets"])
        assert len({target["refId"] for target in panel["targets"]}) == len(panel["targets"])
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24
        covered = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not covered & cells, f"panel {panel['title']!r} overlaps another"
        cells |= covered


def test_grafanas_own_dashboard_model_keeps_every_field():
    models = pytest.importorskip(
        "grafana_foundation_sdk.models.dashboard",
        reason="grafana-foundation-sdk is not installed (extra 'test')",
    )
    from grafana_foundation_sdk.cog.encoder import JSONEncoder

    board = dashboard()
    again = json.loads(json.dumps(models.Dashboard.from_json(board), cls=JSONEncoder))
    for key in board.keys() - {"__inputs", "__requires"}:
        assert key in again, f"Grafana's model has no dashboard field {key!r}"
    for panel, decoded in zip(board["panels"], again["panels"], strict=True):
        assert panel.keys() <= decoded.keys(), set(panel) - set(decoded)
        for target, back in zip(panel["targets"], decoded["targets"], strict=True):
            assert target.items() <= back.items()
