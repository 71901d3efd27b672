"""`jiuzhu bench` works end to end at tiny scale (a smoke test, not a measurement)."""

import json

import pytest

from jiuzhu import bench

pytestmark = pytest.mark.slow


def test_bench_writes_the_table_and_the_json(tmp_path):
    results = bench.run(["tiny"], ["generate", "ingest", "marts"], 1, tmp_path)
    gen, ingest, marts = results["stages"]
    assert marts["rows"] > 0 and marts["reference_s"] > 0  # full build against one month rebuilt
    assert gen["persons"] > 1900 and gen["persons_per_s"] > 0 and gen["peak_rss_mib"] > 0
    assert ingest["rows"] == gen["rows"] and ingest["ratio_to_reference"] > 0
    text = (tmp_path / "benchmarks.md").read_text()
    assert "| generate | tiny |" in text and "| ingest | tiny |" in text and "| marts | tiny |" in text
    assert json.loads((tmp_path / "benchmarks-tiny.json").read_text())["stages"][0]["scale"] == "tiny"
