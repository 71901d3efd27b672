"""`jiuzhu bench` works end to end at tiny scale (a smoke test, not a measurement)."""

import json

import pytest

from jiuzhu import bench

pytestmark = pytest.mark.slow


def test_bench_writes_the_table_and_the_json(tmp_path):
    results = bench.run(["tiny"], ["generate"], 1, tmp_path)
    stage = results["stages"][0]
    assert stage["persons"] > 1900 and stage["persons_per_s"] > 0 and stage["peak_rss_mib"] > 0
    assert "| generate | tiny |" in (tmp_path / "benchmarks.md").read_text()
    assert json.loads((tmp_path / "benchmarks-tiny.json").read_text())["stages"][0]["scale"] == "tiny"
