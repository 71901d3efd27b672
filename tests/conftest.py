"""Shared fixtures: synthetic provinces generated once per test session (never hand-typed data)."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

TINY_SEED = 11


@pytest.fixture(scope="session")
def tiny_province(tmp_path_factory):
    """The tiny province (≈2,000 persons) with all its deliveries and ground truth."""
    from jiuzhu import synth

    out = tmp_path_factory.mktemp("tiny") / "province"
    synth.generate("tiny", TINY_SEED, out)
    return out


@pytest.fixture(scope="session")
def calibration_province(tmp_path_factory):
    """A 40,000-person province: large enough for shares to be stable within a few tenths of a point."""
    from jiuzhu import synth

    out = tmp_path_factory.mktemp("calib") / "province"
    synth.generate(40_000, 3, out)
    return out


@pytest.fixture(scope="session")
def toy_model():
    """A small risk model trained on generated rows (the warning queue and screen tests score with it)."""
    from tests.monitoringkit import toy_model as make

    return make()


@pytest.fixture(scope="session", autouse=True)
def _cheap_password_hashing():
    """Argon2id at its smallest cost in this process: at the production parameters (64 MiB, t=3,
    p=4) a hash costs ~0.25 s of CPU here and the tests make thousands (creating the offices of a
    flow is nine; measured: 60 % of the business tests' CPU). Same algorithm and hash format (the
    auth tests check the stored hashes are argon2id); the CLI run in a child process keeps the
    production parameters, and a hash made at either cost verifies at the other."""
    from argon2 import PasswordHasher

    from jiuzhu import auth

    production = auth._hasher
    auth._hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    yield
    auth._hasher = production


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch):
    """Tests never see the developer's or the Makefile's platform settings."""
    for name in ("JIUZHU_HOME", "JIUZHU_LAKE", "JIUZHU_SCALE", "JIUZHU_SEED", "JIUZHU_WAREHOUSE", "JIUZHU_ENGINE",
                 "JIUZHU_SPARK_WAREHOUSE", "JIUZHU_SPARK_WORKERS"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def tiny_lake(tiny_province, tmp_path_factory):
    """The tiny province's whole inbox ingested and conformed (what the Dagster assets do)."""
    import datetime as dt

    from exchange import run

    root = tmp_path_factory.mktemp("lake")
    reports = run.run_all(tiny_province / "inbox", root / "lake", root / "receipts", today=dt.date(2026, 11, 29))
    return root, reports


@pytest.fixture(scope="session")
def warehouse(tiny_lake, tmp_path_factory):
    """The dbt marts built over the tiny lake: (dbt process, warehouse file, lake root)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from jiuzhu import lake, policy, regions
    from jiuzhu.business import mirror

    root_dir = Path(__file__).resolve().parents[1]
    root, _ = tiny_lake
    silver = root / "lake" / "silver"
    lake.write(silver / "regions", regions.to_arrow())
    lake.write(silver / "policy_standards", policy.standards_arrow())
    lake.write(silver / "policy_asset_limits", policy.asset_limits_arrow())
    mirror.ensure_exists(root / "lake", "verification_requests")  # no request yet: an empty mirror
    out = tmp_path_factory.mktemp("dbt")
    env = {**os.environ, "JIUZHU_LAKE": str(root / "lake"), "JIUZHU_WAREHOUSE": str(out / "w.duckdb"),
           "DO_NOT_TRACK": "1"}
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "dbt"), "build", "--profiles-dir", ".", "--target-path", str(out / "target"),
         "--log-path", str(out / "logs")],
        cwd=root_dir / "dbt_project", env=env, capture_output=True, text=True, timeout=900, check=False,
    )
    return proc, out / "w.duckdb", root / "lake"
