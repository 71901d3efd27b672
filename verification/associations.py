"""关联关系 (AN-3): the links between one household and others that the departments' data shows — a
home, a vehicle or a business registered to members of both. (The connected feeds carry no address
or telephone, so those links cannot be drawn; the synthetic province shares no asset between
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


def links(lake_root: Path, household_no: str) -> pl.DataFrame:
    """One row per (other household, shared asset): kind, asset id, this household's member key and
    the other household's member key and region."""
    persons = _silver(lake_root, "persons", ["person_key", "household_no", "region_code"])
    empty = pl.DataFrame(schema={"kind": pl.Utf8, "asset_id": pl.Utf8, "person_key": pl.Int64,
                                 "other_household_no": pl.Utf8, "other_person_key": pl.Int64,
                                 "other_region_code": pl.Utf8})
    if persons is None:
        return empty
    mine = persons.filter(pl.col("household_no") == household_no).get_column("person_key")
    found = []
    for table, key, kind in ASSETS:
        held = _silver(lake_root, table, ["person_key", key])
        if held is None:
            continue
        held = held.drop_nulls().unique()
        ours = held.filter(pl.col("person_key").is_in(mine.implode()))
        if ours.is_empty():
            continue
        others = (held.filter(pl.col(key).is_in(ours.get_column(key).implode()))
                  .join(persons, on="person_key").filter(pl.col("household_no") != household_no)
                  .rename({"person_key": "other_person_key", "household_no": "other_household_no",
                           "region_code": "other_region_code"}))
        joined = ours.join(others, on=key).select(
            pl.lit(kind).alias("kind"), pl.col(key).cast(pl.Utf8).alias("asset_id"), "person_key",
            "other_household_no", "other_person_key", "other_region_code")
        found.append(joined)
    return pl.concat(found).sort(["other_household_no", "kind"]) if found else empty
