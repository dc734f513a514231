"""docs/observability.md and the Grafana dashboard name the metrics Bulkyard
exports, all of them and only them."""

import json
import re
from pathlib import Path

import pytest

from bulkyard.core.metrics import PREFIX, PROCESS_METRICS
from bulkyard.jobs.metrics import database_collector

ROOT = Path(__file__).resolve().parents[1]
DASHBOARD = ROOT / "docs" / "grafana" / "bulkyard.json"
GUIDE = ROOT / "docs" / "observability.md"
METRIC = re.compile(rf"\b{PREFIX}[a-z0-9_]+\b")
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}


@pytest.fixture
def families(db):
    """Every metric family of a scrape: the processes' and the database's."""
    database_collector.forget()
    found = [family for metric in PROCESS_METRICS for family in metric.describe()]
    return found + list(database_collector.collect())


def _documented_names(families) -> set[str]:
    """As the guide names them: counters with ``_total``, histograms and gauges bare."""
    return {family.name + ("_total" if family.type == "counter" else "") for family in families}


def test_the_guide_lists_every_exported_metric_and_no_other(families):
    table_names = set(re.findall(rf"^\| `({PREFIX}[a-z0-9_]+)`", GUIDE.read_text(), re.MULTILINE))

    assert table_names == _documented_names(families)


def test_the_dashboard_is_a_grafana_dashboard_with_a_query_per_panel():
    dashboard = json.loads(DASHBOARD.read_text())

    assert dashboard["uid"] == "bulkyard"
    assert dashboard["panels"]
    for panel in dashboard["panels"]:
        assert {"id", "type", "title", "gridPos", "targets"} <= set(panel), panel.get("title")
        assert all(target["expr"] for target in panel["targets"]), panel["title"]


def test_every_dashboard_query_names_only_exported_metrics(families):
    exported = {family.name + suffix for family in families for suffix in SUFFIXES[family.type]}
    dashboard = json.loads(DASHBOARD.read_text())

    named = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in METRIC.findall(target["expr"])
    }

    assert named
    assert named - exported == set()
