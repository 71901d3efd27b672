"""Table maintenance: compaction Z-ordered on the look-up key keeps every row, every version of the
reproducibility window stays readable with its rows, the rewrite is sealed (the integrity check stays
clean), and the tables end with fewer files; a zero retention is refused."""

import numpy as np
import pyarrow as pa
import pytest
from deltalake import DeltaTable

from jiuzhu import integrity, lake, maintenance


@pytest.fixture
def lake_root(tmp_path, monkeypatch):
    """Two tables written the way the monthly jobs write them: many small appends."""
    monkeypatch.delenv(integrity.ENV, raising=False)
    root = tmp_path / "lake"
    rng = np.random.default_rng(4)
    for i, month in enumerate(f"2026-{m:02d}" for m in range(1, 13)):
        n = 200 + i
        people = pa.table({"person_key": rng.integers(0, 10_000, n), "period": [month] * n,
                           "wage_yuan": rng.uniform(0, 9000, n).round(2)})
        lake.write(lake.table_path(root, "silver", "income"), people, mode="append")
        homes = pa.table({"household_no": [f"5101040000{k:05d}" for k in rng.integers(0, 3000, n)],
                          "period": [month] * n})
        lake.write(lake.table_path(root, "gold", "verification", "profile"), homes, mode="append")
    return root


def test_maintenance_keeps_rows_and_the_reproducibility_window(lake_root):
    table = lake_root / "silver" / "income"
    before = DeltaTable(str(table))
    old_version, old_rows = 5, DeltaTable(str(table), version=5).to_pyarrow_dataset().count_rows()
    assert before.version() == 11
    results = {r.table: r for r in maintenance.maintain(lake_root)}
    assert {r.zorder for r in results.values()} == {"person_key", "household_no"}
    for r in results.values():
        assert r.rows_after == r.rows_before and r.files_after < r.files_before == 12
        assert r.vacuumed == 0  # nothing inside the window is removed
    assert DeltaTable(str(table), version=old_version).to_pyarrow_dataset().count_rows() == old_rows  # time travel
    assert integrity.check(lake_root) == []  # the rewrite was sealed


def test_a_zero_retention_is_refused(lake_root):
    with pytest.raises(ValueError, match="保留期"):
        maintenance.maintain(lake_root, retention_days=0)
