"""`jiuzhu bench` works end to end at tiny scale (a smoke test, not a measurement)."""

import json

import pytest

from jiuzhu import bench

pytestmark = pytest.mark.slow


def test_bench_writes_the_table_and_the_json(tmp_path, monkeypatch):
    monkeypatch.setenv("JIUZHU_BENCH_HOUSEHOLDS", "12")
    results = bench.run(["tiny"], ["generate", "ingest", "marts", "aggregate", "verify", "reverify", "score",
                                   "render"], 1, tmp_path)
    gen, ingest, marts, aggregate, verify, reverify, score, render = results["stages"]
    # the aggregation on DuckDB against PostgreSQL and pandas over the same rows (parity: test_benchrefs)
    assert aggregate["detail"]["households_months"] > 0 and aggregate["rows"] > aggregate["detail"]["households_months"]
    assert aggregate["reference"].startswith("the same aggregation on PostgreSQL")
    assert aggregate["detail"]["pandas_aggregation_s"] > 0 and aggregate["detail"]["postgres_detection_s"] > 0
    assert render["detail"]["overview_first_render_s"] > 0 and render["detail"]["analysis_first_render_s"] > 0
    assert score["persons"] > 0 and score["persons_per_s"] > 0 and score["detail"]["households"] == score["rows"]
    assert verify["detail"]["households"] == 12 and 0 < verify["detail"]["p50_ms"] <= verify["detail"]["p95_ms"]
    assert verify["ratio_to_reference"] > 0 and verify["detail"]["pdf_render_p50_s"] > 0
    assert verify["detail"]["served"] > 0 and verify["detail"]["computed_p50_ms"] > 0
    assert reverify["rows"] > 0 and reverify["detail"]["pushed"] == reverify["detail"]["detected"]
    assert marts["rows"] > 0 and marts["reference_s"] > 0  # full build against one month rebuilt
    assert gen["persons"] > 1900 and gen["persons_per_s"] > 0 and gen["peak_rss_mib"] > 0
    assert ingest["rows"] == gen["rows"] and ingest["ratio_to_reference"] > 0
    text = (tmp_path / "benchmarks.md").read_text()
    assert "| generate | tiny |" in text and "| ingest | tiny |" in text and "| marts | tiny |" in text and "| aggregate | tiny |" in text
    assert "| verify | tiny |" in text and "- verify / tiny: households 12" in text
    assert json.loads((tmp_path / "benchmarks-tiny.json").read_text())["stages"][0]["scale"] == "tiny"
