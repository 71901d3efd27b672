"""Integrity of the lake's data files: a swapped, altered, deleted or extra Parquet file is found with
the table and file named; what lake.write wrote is sealed at once, what another writer added is
reported unsealed until sealed; files a later version removed are not reported missing."""

import shutil

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from jiuzhu import integrity, lake


@pytest.fixture
def root(tmp_path, monkeypatch):
    monkeypatch.delenv(integrity.ENV, raising=False)
    lake_root = tmp_path / "lake"
    for month in ("2026-09", "2026-10"):  # two files in two partitions
        table = pa.table({"period": [month] * 3, "value": [1, 2, 3] if month == "2026-09" else [7, 8, 9]})
        lake.write(lake.table_path(lake_root, "gold", "area", "t"), table, mode="append", partition_by=["period"])
    return lake_root


def _files(root):
    return sorted(p for p in (root / "gold" / "area" / "t").rglob("*.parquet"))


def codes(root):
    return sorted((f.code, f.table) for f in integrity.check(root))


def test_what_lake_write_wrote_is_sealed_and_clean(root):
    assert integrity.check(root) == []
    assert (root.parent / "integrity" / "gold" / "area" / "t" / "manifest.json").exists()  # outside the lake


def test_swapped_files_are_both_reported_altered(root):
    a, b = _files(root)
    tmp = a.with_suffix(".x")
    shutil.move(a, tmp)
    shutil.move(b, a)
    shutil.move(tmp, b)
    assert codes(root) == [("ALTERED", "gold/area/t"), ("ALTERED", "gold/area/t")]
    # the swap reads silently in Delta: the reason for the manifest
    assert sorted(DeltaTable(str(root / "gold" / "area" / "t")).to_pyarrow_table().column("value").to_pylist()) \
        == [1, 2, 3, 7, 8, 9]


def test_an_edited_a_deleted_and_an_extra_file_are_named(root):
    a, b = _files(root)
    a.write_bytes(a.read_bytes()[:-8] + b"\x00" * 8)
    extra = b.parent / "part-99999-forged.parquet"
    shutil.copy(b, extra)
    b.unlink()
    found = {(f.code, f.file.split("/")[-1]) for f in integrity.check(root)}
    assert found == {("ALTERED", a.name), ("MISSING", b.name), ("EXTRA", extra.name)}
    assert all(f.message_zh for f in integrity.check(root))


def test_another_writers_files_are_unsealed_until_sealed(root):
    other = lake.table_path(root, "silver", "direct")
    write_deltalake(str(other), pa.table({"x": [1]}))  # not through lake.write
    assert codes(root) == [("UNSEALED", "silver/direct")]
    assert integrity.seal(root)["silver/direct"] == 1
    assert integrity.check(root) == []


def test_files_removed_by_a_later_version_and_vacuumed_are_not_missing(root):
    path = lake.table_path(root, "gold", "area", "t")
    lake.write(path, pa.table({"period": ["2026-11"], "value": [0]}), mode="overwrite")
    DeltaTable(str(path)).vacuum(retention_hours=0, enforce_retention_duration=False, dry_run=False)
    assert integrity.check(root) == []


def test_the_dagster_check_fails_on_a_tampered_file(root, tmp_path, monkeypatch):
    import dagster as dg

    from pipelines.defs.foundation.resources import PlatformPaths
    from pipelines.defs.operations import assets

    from jiuzhu import alerts
    from pipelines.defs.operations import sensors

    monkeypatch.setenv("JIUZHU_LAKE", str(root))
    monkeypatch.setenv("JIUZHU_HOME", str(tmp_path / "home"))
    monkeypatch.setenv(alerts.ENV, "log")
    paths = PlatformPaths(home=str(tmp_path / "home"))
    instance = dg.DagsterInstance.ephemeral()
    clean = dg.materialize([assets.integrity_manifest], resources={"paths": paths}, instance=instance)
    assert clean.get_asset_check_evaluations()[0].passed
    a, _ = _files(root)
    a.write_bytes(a.read_bytes()[:-8] + b"\x00" * 8)
    tampered = dg.materialize([assets.integrity_manifest], resources={"paths": paths}, raise_on_error=False,
                              instance=instance)
    evaluation = tampered.get_asset_check_evaluations()[0]
    assert not evaluation.passed and evaluation.metadata["findings"].value == 1
    board = alerts.Alerts(tmp_path / "home", ["log"])
    sensors.failed_check_alert(dg.build_sensor_context(instance=instance))  # the failed check is the alert
    assert list(board.open_alerts()) == ["check:integrity/manifest:data_files_untouched"]
    assert board.open_alerts()["check:integrity/manifest:data_files_untouched"]["severity"] == "critical"
