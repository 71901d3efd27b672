"""纵向同步 (EX-5): a county node kept in step with the province over three months of deliveries — new
rows, a person moving into the county, a correction, a death record removing a person — by
incremental packages; the node's tables equal the province's county slice after each; replaying a
package changes nothing; a tampered package, or one that skips a package, is refused."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import polars as pl
import pyarrow as pa
import pytest

from exchange import sync
from jiuzhu import lake
from tests.business.conftest import FakeClock
from verification import signing

COUNTY = "510104"


def _keys():  # the node trusts the province key
    return signing.trusted_keys()


@pytest.fixture(autouse=True)
def _demo_key(monkeypatch):
    monkeypatch.setenv("JIUZHU_ALLOW_DEMO_KEY", "1")


def _persons(rows):
    return pa.table({"person_key": pa.array([r[0] for r in rows], pa.int64()), "person_id": [f"P{r[0]}" for r in rows],
                     "region_code": [r[1] for r in rows]})


def _deposits(month, keys):
    return pa.table({"person_key": pa.array(keys, pa.int64()), "period": [month] * len(keys),
                     "deposit_balance": pa.array([1000.0 * k for k in keys])})


def _stats(rows):
    return pa.table({"period": [r[0] for r in rows], "county_code": [r[1] for r in rows],
                     "recipients": pa.array([r[2] for r in rows], pa.int64())})


def _province_months(root):
    """Yield after each month's deliveries are in the province's lake."""
    persons, stats = lake.table_path(root, "silver", "persons"), lake.table_path(root, "gold", "statistics", "monthly")
    deposits = lake.table_path(root, "silver", "deposits")
    people = [(1, "510104001000"), (2, "510104002000"), (3, "510104001000"), (4, "510105001000"), (5, "510105001000")]
    lake.write(persons, _persons(people))
    lake.write(deposits, _deposits("2026-08", [1, 2, 3, 4, 5]))
    lake.write(stats, _stats([("2026-08", "510104", 30), ("2026-08", "510105", 20)]))
    yield "month 1"
    people[3] = (4, "510104002000")  # person 4 moves into the county: their history comes with them
    lake.write(persons, _persons(people))
    lake.write(deposits, _deposits("2026-09", [1, 2, 3, 4, 5]), mode="append")
    lake.write(stats, _stats([("2026-09", "510104", 31), ("2026-09", "510105", 19)]), mode="append")
    yield "month 2"
    people = [p for p in people if p[0] != 2]  # a death record removes person 2
    lake.write(persons, _persons(people))
    lake.write(deposits, _deposits("2026-10", [1, 3, 4, 5]), mode="append")
    # a correction of an earlier month's figure
    lake.write(stats, _stats([("2026-08", "510104", 29), ("2026-08", "510105", 20), ("2026-09", "510104", 31),
                              ("2026-09", "510105", 19), ("2026-10", "510104", 30), ("2026-10", "510105", 19)]))
    yield "month 3"


def _sorted(table) -> pl.DataFrame:
    frame = pl.from_arrow(table)
    return frame.select(sorted(frame.columns)).sort(sorted(frame.columns))


def _county_slice(root, name) -> pl.DataFrame:
    from deltalake import DeltaTable

    frame = pl.from_arrow(DeltaTable(str(root / name)).to_pyarrow_table())
    if "region_code" in frame.columns:
        frame = frame.filter(pl.col("region_code").str.starts_with(COUNTY))
    elif "county_code" in frame.columns:
        frame = frame.filter(pl.col("county_code").str.starts_with(COUNTY))
    else:
        people = pl.from_arrow(DeltaTable(str(root / "silver/persons")).to_pyarrow_table())
        keys = people.filter(pl.col("region_code").str.starts_with(COUNTY))["person_key"].to_list()
        frame = frame.filter(pl.col("person_key").is_in(keys))
    return frame.select(sorted(frame.columns)).sort(sorted(frame.columns))


def _node_equals_slice(province, node):
    from deltalake import DeltaTable

    for name in ("silver/persons", "silver/deposits", "gold/statistics/monthly"):
        assert _sorted(DeltaTable(str(node / name)).to_pyarrow_table()).equals(_county_slice(province, name)), name


def test_a_county_node_follows_the_province_over_three_months(tmp_path):
    province, node, out = tmp_path / "province", tmp_path / "node", tmp_path / "packages"
    clock = FakeClock(datetime(2026, 9, 20, 2, 0, tzinfo=UTC))
    packages = []
    for month in _province_months(province):
        package = sync.export(province, COUNTY, out, signer=signing.load_signer(), acknowledged=sync.node_state(node),
                              clock=clock)
        result = sync.apply(node, package.folder, keys=_keys())
        assert result.applied, month
        _node_equals_slice(province, node)
        packages.append(package)
        clock.advance(days=30)
    last = packages[-1].manifest["tables"]
    # month 3 sent only what changed: person 2 gone, the corrected figure as a delete plus an insert
    assert last["silver/persons"]["deletes"]["rows"] == 1 and last["silver/persons"]["inserts"]["rows"] == 0
    assert last["silver/deposits"]["inserts"]["rows"] == 3 and last["silver/deposits"]["deletes"]["rows"] == 2
    assert last["gold/statistics/monthly"]["deletes"]["rows"] == 1
    # month 2 brought person 4's earlier deposits along with the move
    second = packages[1].manifest["tables"]["silver/deposits"]
    assert second["inserts"]["rows"] == 5 and second["deletes"]["rows"] == 0

    names = ("silver/persons", "silver/deposits", "gold/statistics/monthly")
    before = {n: (_sorted(lake.read(node / n)), lake.read(node / n).num_rows) for n in names}
    replay = sync.apply(node, packages[-1].folder, keys=_keys())
    assert replay.applied == [] and set(replay.skipped) == set(last)
    assert all(_sorted(lake.read(node / n)).equals(f) for n, (f, _) in before.items())  # nothing changed


def test_a_tampered_package_and_a_skipped_one_are_refused(tmp_path):
    province, out = tmp_path / "province", tmp_path / "packages"
    clock = FakeClock(datetime(2026, 9, 20, 2, 0, tzinfo=UTC))
    months = _province_months(province)
    next(months)
    first = sync.export(province, COUNTY, out, signer=signing.load_signer(), clock=clock)
    node = tmp_path / "node"
    sync.apply(node, first.folder, keys=_keys())
    next(months)
    clock.advance(days=30)
    second = sync.export(province, COUNTY, out, signer=signing.load_signer(), acknowledged=sync.node_state(node),
                              clock=clock)

    data = second.folder / second.manifest["tables"]["silver/deposits"]["inserts"]["file"]
    original = data.read_bytes()
    data.write_bytes(original[:-10] + b"0123456789")
    with pytest.raises(sync.SyncError) as err:
        sync.apply(node, second.folder, keys=_keys())
    assert err.value.code == "PACKAGE_TAMPERED" and "deposits" in err.value.message
    data.write_bytes(original)
    manifest = json.loads((second.folder / "manifest.json").read_text("utf-8"))
    manifest["tables"]["silver/deposits"]["inserts"]["rows"] = 99
    (second.folder / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, sort_keys=True), "utf-8")
    with pytest.raises(sync.SyncError) as err:
        sync.apply(node, second.folder, keys=_keys())
    assert err.value.code == "PACKAGE_TAMPERED"
    assert sync.node_state(node) == {n: e["to_version"] for n, e in first.manifest["tables"].items()}  # untouched

    fresh = tmp_path / "fresh-node"
    with pytest.raises(sync.SyncError) as err:
        sync.apply(fresh, sync.export(province, COUNTY, out, signer=signing.load_signer(),
                                      acknowledged=sync.node_state(node),
                                      clock=FakeClock(datetime(2026, 11, 1, tzinfo=UTC))).folder, keys=_keys())
    assert err.value.code == "PACKAGE_GAP"


def test_the_commands_export_and_apply_a_package(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from jiuzhu import cli

    province = tmp_path / "province"
    next(_province_months(province))
    monkeypatch.setenv("JIUZHU_LAKE", str(province))
    runner = CliRunner()
    made = runner.invoke(cli.main, ["sync", "export", "--region", COUNTY, "--out", str(tmp_path / "out")])
    assert made.exit_code == 0, made.output
    folder = next((tmp_path / "out").iterdir())
    applied = runner.invoke(cli.main, ["sync", "apply", str(folder), "--node", str(tmp_path / "node")])
    assert applied.exit_code == 0 and "已导入3张表" in applied.output, applied.output
    again = runner.invoke(cli.main, ["sync", "apply", str(folder), "--node", str(tmp_path / "node")])
    assert "已导入0张表,已是最新3张" in again.output
    _node_equals_slice(province, tmp_path / "node")
