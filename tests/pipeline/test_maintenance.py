"""Table maintenance on the tiny province: compaction and Z-order keep every row, every version of
the reproducibility window stays readable with its rows, the rewrite is sealed (the integrity check
stays clean), and files fall; vacuum with a zero retention would drop the old versions' files."""

import shutil

import pytest
from deltalake import DeltaTable

from jiuzhu import integrity, maintenance

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("tiny_lake")]


def test_maintenance_keeps_rows_and_the_reproducibility_window(tiny_lake, tmp_path):
    root, _ = tiny_lake
    lake_root = tmp_path / "lake"
    shutil.copytree(root / "lake", lake_root, ignore=shutil.ignore_patterns("serving"))
    integrity.seal(lake_root)
    table = lake_root / "silver" / "income_monthly"
    before = DeltaTable(str(table))
    old_version, old_rows = before.version(), before.to_pyarrow_dataset().count_rows()
    results = maintenance.maintain(lake_root, zones=("silver",))
    assert results and all(r.rows_after == r.rows_before for r in results)
    assert sum(r.files_after for r in results) < sum(r.files_before for r in results)
    assert any(r.zorder == "person_key" for r in results)
    assert DeltaTable(str(table), version=old_version).to_pyarrow_dataset().count_rows() == old_rows  # time travel
    assert all(r.vacuumed == 0 for r in results)  # nothing inside the window is removed
    assert [f for f in integrity.check(lake_root) if f.code != "UNSEALED"] == []
    with pytest.raises(ValueError, match="保留期"):
        maintenance.maintain(lake_root, retention_days=0)
