"""A real process kill in the middle of an ingest, then a rerun: the tables equal a clean run's."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from deltalake import DeltaTable

from exchange import batches as B
from exchange import run

# one worker builds the tiny lake and marts once (pytest-xdist --dist loadgroup)
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("tiny_lake")]
DEPARTMENTS = ["gongan", "renshe", "minzheng"]
TIME_COLUMNS = {"_ingested_at", "ingested_at"}
ROOT = Path(__file__).resolve().parents[2]
TODAY = "2026-11-29"

WORKER = """
import datetime as dt, sys
from pathlib import Path
from exchange import run
inbox, lake, receipts = map(Path, sys.argv[1:4])
for dept in sys.argv[4].split(","):
    run.run_department(inbox, lake, receipts, dept, today=dt.date.fromisoformat(sys.argv[5]))
"""


def _run_all(inbox: Path, lake: Path) -> None:
    import datetime as dt

    for dept in DEPARTMENTS:
        run.run_department(inbox, lake, lake.parent / "receipts", dept, today=dt.date.fromisoformat(TODAY))


def _snapshot(lake: Path) -> dict[str, list[tuple]]:
    out = {}
    for log in sorted(lake.glob("**/_delta_log")):
        table = DeltaTable(str(log.parent)).to_pyarrow_table()
        cols = [c for c in table.column_names if c not in TIME_COLUMNS]
        rows = table.select(cols).to_pylist()
        out[str(log.parent.relative_to(lake))] = sorted(tuple(sorted((k, str(v)) for k, v in r.items())) for r in rows)
    return out


@pytest.fixture(scope="module")
def small_inbox(tiny_province, tmp_path_factory):
    inbox = tmp_path_factory.mktemp("kill") / "inbox"
    for dept in DEPARTMENTS:
        shutil.copytree(tiny_province / "inbox" / dept, inbox / dept)
    return inbox


@pytest.fixture(scope="module")
def clean(small_inbox, tmp_path_factory):
    lake = tmp_path_factory.mktemp("clean") / "lake"
    _run_all(small_inbox, lake)
    return _snapshot(lake)


@pytest.mark.parametrize("after_batches", [3, 30])
def test_killed_ingest_rerun_equals_a_clean_run(small_inbox, clean, tmp_path, after_batches):
    lake = tmp_path / "lake"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", WORKER, str(small_inbox), str(lake), str(tmp_path / "receipts"),
                             ",".join(DEPARTMENTS), TODAY], env=env, cwd=ROOT)
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            done = sum(len(B.ledger_rows(lake, d)) for d in DEPARTMENTS if (lake / "bronze" / d / "_batches").exists())
            if done >= after_batches:
                break
            time.sleep(0.05)
    except Exception:  # the ledger may be mid-commit when read; the kill still happens
        pass
    killed = proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert killed, "the ingest finished before it could be killed"
    _run_all(small_inbox, lake)
    assert _snapshot(lake) == clean
