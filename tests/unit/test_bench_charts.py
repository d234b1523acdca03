"""bench/run.py --render: a saved run's tables printed and drawn, one PNG per workload."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from matplotlib.image import imread

from bench.charts import draw_charts

ROOT = Path(__file__).resolve().parents[2]

#: a saved run as bench/run.py writes it (numbers made up, shapes real): three servers, two
#: rounds, one of them failed for one server, and a workload nobody ran
RESULTS = {
    "hello": {
        "asgi-master": [
            {"round": 1, "requests_per_s": 44000.0, "p50_ms": 1.4, "p99_ms": 2.3},
            {"round": 2, "requests_per_s": 46000.0, "p50_ms": 1.3, "p99_ms": 2.2},
        ],
        "uvicorn-httptools": [
            {"round": 1, "requests_per_s": 42000.0, "p50_ms": 1.5, "p99_ms": 2.5},
            {"round": 2, "error": "server died"},
        ],
        "granian": [{"round": 1, "error": "no start"}, {"round": 2, "error": "no start"}],
    },
    "ws": {"asgi-master": [{"round": 1, "messages_per_s": 120000.0}]},
    "upload": {},
}


def is_png(path: Path) -> bool:
    return path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_one_png_per_workload_that_has_numbers(tmp_path):
    written = draw_charts(RESULTS, tmp_path)
    assert written == [tmp_path / "hello.png", tmp_path / "ws.png"]
    assert all(is_png(path) for path in written)


def test_a_workload_with_three_metrics_gets_three_panels_side_by_side(tmp_path):
    draw_charts(RESULTS, tmp_path)
    hello = imread(tmp_path / "hello.png")
    ws = imread(tmp_path / "ws.png")
    assert hello.shape[1] > 2.5 * ws.shape[1] * 3 / 3.5  # wider by about its panel count
    assert hello.shape[0] == ws.shape[0]


def test_render_prints_the_tables_and_writes_the_charts(tmp_path):
    saved = tmp_path / "run.json"
    saved.write_text(
        json.dumps(
            {
                "date": "2026-12-02T10:00:00",
                "settings": {"rounds": 2, "duration_s": 5},
                "notes": ["granian: did not start"],
                "results": RESULTS,
            }
        )
    )
    charts = tmp_path / "charts"
    result = subprocess.run(
        [sys.executable, "bench/run.py", "--render", str(saved), "--charts-dir", str(charts)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "| asgi-master | 45,000 | 44,000 | 46,000 | 1.00 |" in result.stdout
    assert sorted(p.name for p in charts.iterdir()) == ["hello.png", "ws.png"]
    assert f"chart: {charts / 'hello.png'}" in result.stderr
