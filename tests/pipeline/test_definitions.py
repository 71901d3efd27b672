"""The Dagster code location loads, follows the naming conventions, and its first assets run."""

import dagster as dg
import pytest

from jiuzhu import lake, regions

pytestmark = pytest.mark.slow


def test_definitions_load_and_validate():
    from pipelines.definitions import defs

    repo = defs.get_repository_def()
    keys = {k.to_user_string() for k in repo.asset_graph.get_all_asset_keys()}
    assert {"silver/regions", "synthetic/province"} <= keys


def test_asset_groups_follow_the_written_conventions():
    """docs/conventions.md: groups are bronze_<dept>, silver_*, gold_<area>, synthetic, serving, business, models,
    integrity, operations, inbox (a pull from a department's database) or sharing (an outbound extract)."""
    from jiuzhu import departments
    from pipelines.definitions import defs

    graph = defs.get_repository_def().asset_graph
    prefixes = {"bronze": ("bronze_",), "quarantine": ("bronze_",), "silver": ("silver_",), "gold": ("gold_",),
                "synthetic": ("synthetic",), "warehouse": ("warehouse_", "gold_"), "serving": ("serving",),
                "business": ("business",), "models": ("models",),
                "integrity": ("integrity",), "operations": ("operations",), "inbox": ("inbox",),
                "sharing": ("sharing",)}
    slugs = set(departments.slugs())
    for key in graph.get_all_asset_keys():
        group = graph.get(key).group_name
        zone = key.path[0]
        assert group.startswith(prefixes[zone]), (key, group)
        if zone == "gold":  # a published mart sits in the group of its dbt area
            assert group == f"gold_{key.path[1]}", key
        if zone in ("bronze", "quarantine"):
            assert key.path[1] in slugs | {"business"} and group == f"bronze_{key.path[1]}", key
        if zone == "bronze" and key.path[1] != "business":
            assert key.path[2] == f"raw__{key.path[1]}__{departments.get(key.path[1]).entity}", key


def test_regions_and_province_materialise_into_a_fresh_home(tmp_path, monkeypatch):
    monkeypatch.setenv("JIUZHU_HOME", str(tmp_path))
    monkeypatch.setenv("JIUZHU_SCALE", "tiny")
    monkeypatch.setenv("JIUZHU_SEED", "5")
    from pipelines.defs.foundation import assets
    from pipelines.defs.foundation.resources import PlatformPaths

    result = dg.materialize(
        [assets.regions_table, assets.synthetic_province],
        resources={"paths": PlatformPaths()},
    )
    assert result.success
    table = lake.read(tmp_path / "lake" / "silver" / "regions")
    assert table.num_rows == len(regions.load())
    assert (tmp_path / "province" / "tiny-5" / "generation.json").exists()
    check = dg.materialize([assets.regions_table], resources={"paths": PlatformPaths()},
                           selection=[assets.regions_table])
    assert check.success


@pytest.fixture
def demo_home(tmp_path, monkeypatch, tiny_province):
    import shutil

    shutil.copytree(tiny_province, tmp_path / "province" / "tiny-11")
    monkeypatch.setenv("JIUZHU_HOME", str(tmp_path))
    monkeypatch.setenv("JIUZHU_SCALE", "tiny")
    monkeypatch.setenv("JIUZHU_SEED", "11")
    return tmp_path


def test_a_department_month_ingests_and_conforms_with_its_checks(demo_home):
    from exchange import batches as B
    from pipelines.defs.exchange import assets
    from pipelines.defs.foundation.resources import PlatformPaths

    ingest = next(a for a in assets.INGEST_ASSETS if a.op.name == "ingest_renshe")
    conform = next(a for a in assets.SILVER_ASSETS if a.op.name == "conform_renshe")
    result = dg.materialize([ingest, conform], partition_key="2025-01-01", resources={"paths": PlatformPaths()})
    assert result.success
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks["deliveries_reconcile"] is True
    assert {"deliveries_reconcile", "rejection_rate", "delivered_on_time"} <= set(checks)
    assert all(checks[name] for name in ("keys_unique", "required_present", "codes_in_contract",
                                         "amounts_not_negative"))
    ledger = B.ledger_rows(demo_home / "lake", "renshe")
    assert {r["period"] for r in ledger} == {"2025-01"}  # only the requested month
    assert lake.exists(demo_home / "lake" / "silver" / "employment_income")


def test_inbox_sensor_requests_one_run_per_department_month(demo_home):
    from pipelines.defs.exchange.sensors import inbox_sensor

    requests = list(inbox_sensor(dg.build_sensor_context()))
    assert len(requests) == 13 * 24
    keys = {(r.tags["department"], r.partition_key) for r in requests}
    assert ("renshe", "2025-01-01") in keys and ("gongan", "2026-10-01") in keys
