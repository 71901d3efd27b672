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
    """docs/conventions.md: groups are bronze_<dept>, silver_*, gold_<area> or synthetic."""
    from pipelines.definitions import defs

    graph = defs.get_repository_def().asset_graph
    for key in graph.get_all_asset_keys():
        group = graph.get(key).group_name
        zone = key.path[0]
        assert group.startswith(zone if zone != "synthetic" else "synthetic"), (key, group)


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
