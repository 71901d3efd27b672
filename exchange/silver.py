"""Conform accepted bronze rows into the silver zone (基础信息库 and conformed facts).

Per department a conformed table keyed by the contract's keys (IDs normalised to 18 digits with
an int64 ``person_key``, amounts in yuan, dates as dates), merged batch by batch (upsert): a new
month touches only its own rows, a correction (更正) or a later batch replaces the row it corrects
(the replaced version stays in the Delta history). Derived tables — persons, households, family
relations and monthly income by category — follow from them.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import re
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
from deltalake import DeltaTable, write_deltalake

from exchange import ingest as ingest_
from exchange import validate
from jiuzhu import lake
from schemas import contracts

TABLES = {
    "gongan": "hukou_events", "renshe": "employment_income", "shuiwu": "taxable_income",
    "budongchan": "real_estate", "cheliang": "vehicles", "shichang": "businesses", "gongjijin": "housing_fund",
    "yibao": "medical_claims", "canlian": "disability", "yinhang": "deposits", "siwang": "deaths",
    "xiangcun": "monitoring_targets", "minzheng": "assistance_roster",
}
# Monthly income by category: (department, source column, category, counted as income for dibao)
INCOME = [
    ("renshe", "wage", "wage", True), ("renshe", "pension", "employee_pension", True),
    ("renshe", "unemployment_benefit", "unemployment_benefit", True),
    ("shuiwu", "income_amount", "taxable_income", False),
    ("gongjijin", "contribution_base", "housing_fund_base", False),
]
_CHECK_VALUE = {c: (10 if c == "X" else int(c)) for c in "0123456789X"}


def table_path(lake_root: Path, name: str) -> Path:
    return lake.table_path(lake_root, "silver", name)


def person_key(expr: pl.Expr) -> pl.Expr:
    """int64 key = first 17 digits × 11 + check value (X = 10); see ``jiuzhu.ids.to_key``."""
    return expr.str.slice(0, 17).cast(pl.Int64, strict=False) * 11 + \
        expr.str.slice(17, 1).replace_strict(_CHECK_VALUE, default=None, return_dtype=pl.Int64)


def _by_name(contract: contracts.Contract) -> contracts.Contract:
    """The contract with bronze's column names as source names (bronze stores our names)."""
    return dataclasses.replace(contract, fields=tuple(dataclasses.replace(f, source=f.name) for f in contract.fields))


def conformed_rows(lake_root: Path, contract: contracts.Contract, batch_key: str, period: str,
                   extract_date: _dt.date, today: _dt.date) -> pl.DataFrame:
    """The batch's accepted rows, normalised, with person keys and lineage."""
    bronze = DeltaTable(str(ingest_.bronze_path(lake_root, contract)))
    ds = bronze.to_pyarrow_dataset()
    import pyarrow.compute as pc  # noqa: PLC0415

    table = ds.to_table(filter=(pc.field("_batch_key") == batch_key) & (pc.field("_status") == "accepted"))
    frame = pl.from_arrow(table)
    if frame.height == 0:
        return frame
    names = [f.name for f in contract.fields]
    values = validate.normalise(frame.select(names), _by_name(contract), batch_period=period,
                                extract_date=extract_date, today=today)
    lineage = frame.select("_department", "_batch_key", "_period", "_file", "_row_number")
    out = pl.concat([values, lineage], how="horizontal")
    if "person_id" in out.columns:
        out = out.with_columns(person_key(pl.col("person_id")).alias("person_key"))
    if contract.correction_field:  # a correction replaces the row it corrects, also inside one batch
        out = out.sort(contract.correction_field, descending=True).unique(list(contract.keys), keep="first",
                                                                          maintain_order=True)
    return out.sort("_row_number")


def merge(path: Path, rows: pa.Table, keys: list[str]) -> None:
    """Upsert ``rows`` by ``keys`` (one commit); creates the table on first use.

    Monthly facts (``period`` in the keys) are partitioned by period: the merge then reads only the
    months the batch touches (renshe at small scale: 12.4 s of merging for 24 months before)."""
    if rows.num_rows == 0:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    if not lake.exists(path):
        write_deltalake(str(path), rows, mode="append", partition_by=["period"] if "period" in keys else None)
        return
    target = DeltaTable(str(path))
    if "period" in keys and "period" in target.metadata().partition_columns:
        # A new month's rows cannot match anything yet: append them, and merge only the rows of months
        # already present (corrections, re-deliveries). Cut renshe's conform at small scale from
        # 20 s of merging to the corrections alone. A crash between the two commits is safe: the
        # rerun merges the appended rows onto themselves.
        present = {p["period"] for p in target.partitions()}
        import pyarrow.compute as pc  # noqa: PLC0415

        in_present = pc.is_in(rows.column("period"), value_set=pa.array(sorted(present), pa.string()))
        fresh = rows.filter(pc.invert(in_present))
        if fresh.num_rows:
            write_deltalake(str(path), fresh, mode="append", partition_by=["period"])
        rows = rows.filter(in_present)
        if rows.num_rows == 0:
            return
        target = DeltaTable(str(path))
    predicate = " AND ".join(f"t.{k} = s.{k}" for k in keys)
    if "period" in keys and "period" in target.metadata().partition_columns:
        # delta-rs prunes the target's files only on literal partition values; the months are
        # validated 'YYYY-MM' strings, checked again here before they enter the predicate
        months = sorted(set(rows.column("period").to_pylist()))
        if all(re.fullmatch(r"\d{4}-\d{2}", m or "") for m in months):
            predicate += " AND t.period IN (" + ", ".join(f"'{m}'" for m in months) + ")"
    (target.merge(source=rows, predicate=predicate, source_alias="s", target_alias="t")
     .when_matched_update_all().when_not_matched_insert_all().execute())


def conform_batch(lake_root: Path, contract: contracts.Contract, batch_key: str, period: str,
                  extract_date: _dt.date, today: _dt.date | None = None) -> int:
    """Merge one ingested batch into silver; returns the number of conformed rows."""
    today = today or _dt.date.today()
    rows = conformed_rows(lake_root, contract, batch_key, period, extract_date, today)
    if rows.height == 0:
        return 0
    arrow = rows.to_arrow()
    merge(table_path(lake_root, TABLES[contract.department]), arrow, list(contract.keys))
    if contract.department == "gongan":
        _merge_persons(lake_root, rows)
    return rows.height


def _merge_persons(lake_root: Path, events: pl.DataFrame) -> None:
    """Latest state per person from this batch's hukou events; an older event never overwrites a newer one."""
    latest = (events.sort(["change_date", "_row_number"]).group_by("person_key", maintain_order=True).last()
              .with_columns((pl.col("change_type") != "死亡注销").alias("alive"))
              .select("person_key", "person_id", "person_name", "sex", "ethnicity", "birth_date", "household_no",
                      "relation", "region_code", "hukou_type", "alive", "change_type", "change_date", "_batch_key"))
    path = table_path(lake_root, "persons")
    arrow = latest.to_arrow()
    if not lake.exists(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        write_deltalake(str(path), arrow, mode="append")
        return
    (DeltaTable(str(path)).merge(source=arrow, predicate="t.person_key = s.person_key", source_alias="s",
                                 target_alias="t")
     .when_matched_update_all(predicate="s.change_date >= t.change_date").when_not_matched_insert_all().execute())


def rebuild_households(lake_root: Path) -> dict:
    """Households and family relations from the current persons (a few seconds per million persons)."""
    persons_path = table_path(lake_root, "persons")
    if not lake.exists(persons_path):
        return {"households": 0, "relations": 0}
    persons = DeltaTable(str(persons_path)).to_pyarrow_dataset()
    con = duckdb.connect()
    con.execute("SET autoinstall_known_extensions = false; SET autoload_known_extensions = false")
    con.register("persons", persons)
    relations = con.sql("""
        select household_no, person_key, person_id, relation, alive from persons order by household_no, person_key
    """).to_arrow_table()
    households = con.sql("""
        select household_no,
               any_value(region_code order by case when relation = '02' then 0 else 1 end, person_key) as region_code,
               any_value(hukou_type order by case when relation = '02' then 0 else 1 end, person_key) as hukou_type,
               count(*) filter (where alive) as members,
               any_value(person_key order by case when relation = '02' then 0 else 1 end, person_key)
                   filter (where alive) as head_person_key
        from persons group by household_no order by household_no
    """).to_arrow_table()
    lake.write(table_path(lake_root, "family_relations"), relations)
    lake.write(table_path(lake_root, "households"), households)
    return {"households": households.num_rows, "relations": relations.num_rows}


# Quarantine reasons that do not lose a member: the same row delivered twice
_KEEPS_MEMBER = ("DUPLICATE_ROW",)
QUARANTINED_MEMBERS_SCHEMA = pa.schema([("household_no", pa.string()), ("since_period", pa.string()),
                                        ("member_rows", pa.int64()), ("reason_codes", pa.string())])


def rebuild_quarantined_members(lake_root: Path) -> int:
    """Households with a hukou row the exchange quarantined and the department has not corrected
    since (no accepted person of that name in that household): their members may be incomplete,
    so the assessment must not treat the family as whole. One row per household: the first
    month concerned, how many rows, and why. The raw row is read for its household number and
    name only; neither the name nor the row leaves this function. Always written (empty when none):
    the marts read it as a source."""
    quarantine = lake.table_path(lake_root, "quarantine", "gongan", "rejected_rows")
    persons = table_path(lake_root, "persons")
    out = QUARANTINED_MEMBERS_SCHEMA.empty_table()
    if lake.exists(quarantine):
        rows = (pl.from_arrow(DeltaTable(str(quarantine)).to_pyarrow_table(
                    columns=["_period", "_reason_code", "_raw_row"]))
                .filter(~pl.col("_reason_code").is_in(_KEEPS_MEMBER))
                .with_columns(pl.col("_raw_row").str.json_path_match("$.household_no").alias("household_no"),
                              pl.col("_raw_row").str.json_path_match("$.person_name").alias("person_name"))
                .filter(pl.col("household_no").is_not_null() & (pl.col("household_no") != "")))
        if rows.height and lake.exists(persons):
            accepted = pl.from_arrow(DeltaTable(str(persons)).to_pyarrow_table(
                columns=["household_no", "person_name"])).unique()
            rows = rows.join(accepted, on=["household_no", "person_name"], how="anti")
        if rows.height:
            out = (rows.group_by("household_no")
                   .agg(pl.col("_period").min().alias("since_period"), pl.len().cast(pl.Int64).alias("member_rows"),
                        pl.col("_reason_code").unique().sort().str.join(",").alias("reason_codes"))
                   .sort("household_no").to_arrow().cast(QUARANTINED_MEMBERS_SCHEMA))
    lake.write(table_path(lake_root, "quarantined_members"), out)
    return out.num_rows


def rebuild_income_monthly(lake_root: Path) -> int:
    """Monthly income by person, category and department, from the income feeds' silver tables.

    A derived table with one writer (this function): the three feeds' assets run in parallel and
    would conflict if each merged into it."""
    con = duckdb.connect()
    con.execute("SET autoinstall_known_extensions = false; SET autoload_known_extensions = false")
    parts = []
    for dept, column, category, counted in INCOME:
        path = table_path(lake_root, TABLES[dept])
        if not lake.exists(path):
            continue
        con.register(f"src_{dept}", DeltaTable(str(path)).to_pyarrow_dataset())
        parts.append(
            f"select person_key, person_id, period, '{category}' as category, {column} as amount_yuan, "
            f"{str(counted).lower()} as counted, '{dept}' as department, _batch_key from src_{dept} "
            f"where {column} is not null"
        )
    if not parts:
        return 0
    # the SQL is assembled only from the constant INCOME table above, never from data. One month at
    # a time, streamed into one Delta commit: sorting the whole union at once ran out of memory at
    # medium scale (18.8 GiB, 5 M persons × 24 months), one month is 1/24 of it.
    union = " union all ".join(parts)
    periods = [p for (p,) in con.sql(f"select distinct period from ({union}) order by period").fetchall()]
    schema = con.sql(f"select * from ({union}) limit 0").to_arrow_table().schema
    written = 0

    def months():
        nonlocal written
        for period in periods:
            batch = con.sql(f"select * from ({union}) where period = ? order by person_key, category",
                            params=[period]).to_arrow_table()
            written += batch.num_rows
            yield from batch.to_batches(max_chunksize=1_000_000)

    lake.write(table_path(lake_root, "income_monthly"), pa.RecordBatchReader.from_batches(schema, months()),
               partition_by=["period"])
    return written


def contract_checks(lake_root: Path, contract: contracts.Contract) -> dict[str, dict]:
    """Checks generated from the contract, run over the conformed table: keys unique, required
    fields present, codes within their code lists, amounts not negative. {name: {passed, violations}}."""
    path = table_path(lake_root, TABLES[contract.department])
    if not lake.exists(path):
        return {}
    frame = pl.scan_delta(str(path))
    keys = list(contract.keys)
    required = [f.name for f in contract.fields if f.required]
    codes = [f for f in contract.fields if f.type == "code" and f.codes]
    amounts = [f.name for f in contract.fields if f.type == "amount"]
    false = pl.lit(False)
    counts = frame.select(
        pl.any_horizontal([pl.col(c).is_null() for c in required] or [false]).sum().alias("required_present"),
        pl.any_horizontal([pl.col(f.name).is_not_null() & ~pl.col(f.name).is_in(list(f.codes)) for f in codes]
                          or [false]).sum().alias("codes_in_contract"),
        pl.any_horizontal([pl.col(c) < 0 for c in amounts] or [false]).sum().alias("amounts_not_negative"),
    ).collect().row(0, named=True)
    duplicates = frame.group_by(keys).len().filter(pl.col("len") > 1).select(pl.len()).collect().item()
    out = {"keys_unique": duplicates, **counts}
    return {name: {"passed": int(count or 0) == 0, "violations": int(count or 0)} for name, count in out.items()}


CONTRACT_CHECKS = {
    "keys_unique": "主键唯一(协议规定的主键)",
    "required_present": "必填数据元不为空",
    "codes_in_contract": "代码值均在协议代码表内",
    "amounts_not_negative": "金额不为负",
}
