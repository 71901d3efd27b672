"""关联关系 (AN-3): the links between households that the departments' data shows — a home, a
vehicle or a business registered to members of both. ``build`` finds every such link in silver and
``publish`` writes them to gold ``verification/household_links`` (both directions) for the screens,
which read gold only; ``links`` reads one household's. (The connected feeds carry no address or
telephone, so those links cannot be drawn; the synthetic province shares no asset between
households, so its households show none.)"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from jiuzhu import lake

# silver table, the asset's identifier, what it is called on the screen
ASSETS = (("real_estate", "certificate_no", "不动产权证"), ("vehicles", "plate_no", "机动车号牌"),
          ("businesses", "uscc", "统一社会信用代码"))


def _silver(lake_root: Path, name: str, columns: list[str]) -> pl.DataFrame | None:
    from deltalake import DeltaTable

    path = lake.table_path(Path(lake_root), "silver", name)
    if not lake.exists(path):
        return None
    return pl.from_arrow(DeltaTable(str(path)).to_pyarrow_table(columns=columns))


GOLD = ("verification", "household_links")
SCHEMA = {"household_no": pl.Utf8, "kind": pl.Utf8, "asset_id": pl.Utf8, "person_key": pl.Int64,
          "other_household_no": pl.Utf8, "other_person_key": pl.Int64, "other_region_code": pl.Utf8}


def build(lake_root: Path) -> pl.DataFrame:
    """Every cross-household link through a shared asset, once from each side."""
    persons = _silver(lake_root, "persons", ["person_key", "household_no", "region_code"])
    if persons is None:
        return pl.DataFrame(schema=SCHEMA)
    found = []
    for table, key, kind in ASSETS:
        held = _silver(lake_root, table, ["person_key", key])
        if held is None:
            continue
        held = held.drop_nulls().unique().join(persons, on="person_key")
        shared = held.group_by(key).agg(pl.col("household_no").n_unique().alias("n")).filter(pl.col("n") > 1)
        held = held.join(shared.select(key), on=key)
        pairs = held.join(held, on=key, suffix="_other").filter(pl.col("household_no") != pl.col("household_no_other"))
        found.append(pairs.select(
            "household_no", pl.lit(kind).alias("kind"), pl.col(key).cast(pl.Utf8).alias("asset_id"), "person_key",
            pl.col("household_no_other").alias("other_household_no"), pl.col("person_key_other").alias("other_person_key"),
            pl.col("region_code_other").alias("other_region_code")))
    out = pl.concat(found) if found else pl.DataFrame(schema=SCHEMA)
    return out.cast(SCHEMA).sort(["household_no", "other_household_no", "kind", "asset_id"])


def publish(lake_root: Path) -> int:
    return lake.write(lake.table_path(Path(lake_root), "gold", *GOLD), build(lake_root).to_arrow())


def links(lake_root: Path, household_no: str) -> pl.DataFrame:
    """One household's links (from gold): kind, asset id, its member, the other household and member."""
    from deltalake import DeltaTable

    path = lake.table_path(Path(lake_root), "gold", *GOLD)
    if not lake.exists(path):
        return pl.DataFrame(schema=SCHEMA).drop("household_no")
    rows = pl.from_arrow(DeltaTable(str(path)).to_pyarrow_table(filters=[("household_no", "=", household_no)]))
    return rows.drop("household_no") if rows.height else pl.DataFrame(schema=SCHEMA).drop("household_no")
