"""The dbt project builds on dbt-duckdb over the silver Delta tables, tests included."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from jiuzhu import lake, regions

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def test_dbt_build_passes_over_the_silver_regions(tmp_path):
    lake.write(tmp_path / "lake" / "silver" / "regions", regions.to_arrow())
    env = {**os.environ, "JIUZHU_LAKE": str(tmp_path / "lake"), "JIUZHU_WAREHOUSE": str(tmp_path / "w.duckdb"),
           "DO_NOT_TRACK": "1"}
    dbt = Path(sys.executable).parent / "dbt"
    proc = subprocess.run(
        [str(dbt), "build", "--profiles-dir", ".", "--target-path", str(tmp_path / "target"),
         "--log-path", str(tmp_path / "logs")],
        cwd=ROOT / "dbt_project", env=env, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "PASS=5" in proc.stdout
