"""The engine that builds the marts: DuckDB (the embedded default) or a Spark-compatible cluster.

The dbt project is one set of models with two targets (``dbt_project/profiles.yml``): ``duckdb``
writes the warehouse file, ``spark`` writes every model as a Delta table under the Spark warehouse
folder through Spark Connect. In production that is Apache Spark 4 with the Delta connector and a
metastore; here it is Sail (``pysail``), started embedded in ``local-cluster`` mode with real
workers. Sail's catalog lives as long as its server, so before dbt runs the marts already written
are registered again by the project's on-run-start hook; a metastore makes that a no-op.

``compare_tables`` is the parity check: the same mart from both engines must have the same
columns in the same order, the same types and the same rows.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pyarrow as pa

from jiuzhu.errors import CodedError

ENGINES = ("duckdb", "spark")
# float columns (amounts in yuan, shares) are compared after rounding to this many decimals: a sum
# over a cluster adds in another order, and binary floating point then differs in the last bits
FLOAT_DECIMALS = 6


def engine_name(value: str | None = None) -> str:
    """The configured engine (JIUZHU_ENGINE), refused with a clear reason when unknown."""
    name = (value if value is not None else os.environ.get("JIUZHU_ENGINE", "duckdb")).strip().lower() or "duckdb"
    if name not in ENGINES:
        raise CodedError("ENGINE_UNKNOWN", f"未知的计算引擎“{name}”,可选:{'、'.join(ENGINES)}")
    return name


def spark_warehouse(home: Path) -> Path:
    """Where the spark target writes its Delta tables (JIUZHU_SPARK_WAREHOUSE, else under the home)."""
    return Path(os.environ.get("JIUZHU_SPARK_WAREHOUSE") or home / "spark-warehouse").absolute()


def written_marts(warehouse: Path) -> list[str]:
    """The models the spark target has written so far (Delta tables under the warehouse folder)."""
    if not warehouse.is_dir():
        return []
    return sorted(p.name for p in warehouse.iterdir() if (p / "_delta_log").is_dir())


# business-database mirrors that are empty until the staff use the platform (no request yet)
BUSINESS_SOURCES = ("verification_requests",)


def _empty(path: Path) -> bool:
    from deltalake import DeltaTable  # noqa: PLC0415

    if not (path / "_delta_log").is_dir():
        return True
    records = DeltaTable(str(path)).get_add_actions(flatten=True).column("num_records").to_pylist()
    return not any(records)


def empty_business_sources(lake: Path) -> list[str]:
    """The business mirrors without a row yet. Sail 0.7.2 in local-cluster mode cannot write a table
    computed from an empty input ("no UDF found for substr/count": the plan reaches no worker), so
    the spark target leaves out the models built on them until they hold rows."""
    from jiuzhu.business import mirror  # noqa: PLC0415

    return [t for t in BUSINESS_SOURCES if _empty(mirror.mirror_path(lake, t))]


def spark_workers() -> int:
    count = os.environ.get("JIUZHU_SPARK_WORKERS", "2").strip()
    if not count.isdigit() or int(count) < 1:
        raise CodedError("ENGINE_WORKERS_INVALID", f"工作节点数应为不小于 1 的整数,而不是“{count}”")
    return int(count)


@dataclass(frozen=True)
class DbtRun:
    """How dbt is invoked for an engine: extra arguments, variables and environment."""

    target: str
    variables: dict
    env: dict[str, str]
    flags: tuple[str, ...] = ()

    def args(self, command: list[str]) -> list[str]:
        return [*command, *self.flags, "--target", self.target, "--vars", json.dumps(self.variables, ensure_ascii=False)]


def dbt_run(engine: str, *, home: Path, lake: Path, warehouse: Path, from_period: str | None = None,
            to_period: str | None = None) -> DbtRun:
    """The dbt invocation that builds the marts on ``engine``. On spark, an embedded Sail server in
    local-cluster mode with JIUZHU_SPARK_WORKERS workers (default 2), or the Spark Connect server
    at JIUZHU_SPARK_HOST:JIUZHU_SPARK_PORT when JIUZHU_SPARK_MODE=remote; the marts it has
    already written are registered again first (Sail's catalog lives as long as its server; a
    metastore keeps them anyway), so an incremental run appends to them."""
    variables: dict = {} if from_period is None else {"from_period": from_period}
    if to_period is not None:
        variables["to_period"] = to_period
    env = {"JIUZHU_LAKE": str(lake), "DO_NOT_TRACK": "1"}
    if engine_name(engine) == "duckdb":
        return DbtRun("duckdb", variables, {**env, "JIUZHU_WAREHOUSE": str(warehouse)})
    spark_dir = spark_warehouse(home)
    variables["spark_written_marts"] = written_marts(spark_dir)
    # Sail reads its configuration from the environment of the process that starts it
    workers = str(spark_workers())
    env |= {"JIUZHU_SPARK_WAREHOUSE": str(spark_dir), "SAIL_MODE": "local-cluster",
            "SAIL_CLUSTER__WORKER_INITIAL_COUNT": workers, "SAIL_CLUSTER__WORKER_MAX_COUNT": workers,
            # a stage of the larger models runs up to 24 tasks at once; slots are scheduling places,
            # not threads (the workers share the machine's cores)
            "SAIL_CLUSTER__WORKER_TASK_SLOTS": os.environ.get("SAIL_CLUSTER__WORKER_TASK_SLOTS", "32"),
            "RUST_LOG": os.environ.get("RUST_LOG", "error")}
    # the relation cache is filled before the on-run-start hook registers the written marts: without
    # it dbt asks the catalog per model, and sees them
    flags = ["--no-populate-cache"]
    for table in empty_business_sources(lake):
        flags += ["--exclude", f"source:business.{table}+"]
    return DbtRun("spark", variables, env, tuple(flags))


def months_per_run() -> int:
    """JIUZHU_MONTHS_PER_RUN: build a full history in chunks of this many months (0 or unset: at once)."""
    value = os.environ.get("JIUZHU_MONTHS_PER_RUN", "0").strip() or "0"
    if not value.isdigit():
        raise CodedError("MONTHS_PER_RUN_INVALID", f"每次构建的月数应为不小于 1 的整数,而不是“{value}”")
    return int(value)


def delivered_months(lake: Path) -> list[str]:
    """Every month some department delivered (not a replay), in order: the months the monthly marts
    have rows for (the calendar of ``int_household_members_monthly_joined``)."""
    from deltalake import DeltaTable  # noqa: PLC0415

    months: set[str] = set()
    for ledger in sorted((lake / "bronze").glob("*/_batches")):
        if (ledger / "_delta_log").is_dir():
            batches = pl.from_arrow(DeltaTable(str(ledger)).to_pyarrow_table(columns=["period", "status"]))
            months |= set(batches.filter(pl.col("status") != "duplicate")["period"].drop_nulls().to_list())
    return sorted(months)


def month_chunks(months: list[str], per_run: int, first: str = "0000-00") -> list[tuple[str, str]]:
    """The history split into runs of ``per_run`` months, in order, as (from_period, to_period).

    A history too large for one query on the machine at hand (Sail's two workers on 24 GiB at
    medium scale) is built chunk after chunk: each run builds its months of every monthly mart and
    reads the months before it (three-month windows, last year) from the tables the earlier runs
    built, so the result is the same as one build. The first chunk starts at ``first`` (by default
    the beginning of time), the last is open-ended."""
    if per_run < 1:
        raise CodedError("MONTHS_PER_RUN_INVALID", f"每次构建的月数应为不小于 1 的整数,而不是“{per_run}”")
    ordered = sorted(set(months))
    chunks = [ordered[i:i + per_run] for i in range(0, len(ordered), per_run)]
    return [(first if i == 0 else c[0], "9999-99" if i == len(chunks) - 1 else c[-1])
            for i, c in enumerate(chunks)]


def read_mart(warehouse: Path, name: str) -> pa.Table:
    """A model as the spark target wrote it."""
    from deltalake import DeltaTable  # noqa: PLC0415

    path = warehouse / name
    if not (path / "_delta_log").is_dir():
        raise CodedError("MART_NOT_BUILT", f"分布式引擎尚未生成数据表“{name}”")
    return DeltaTable(str(path)).to_pyarrow_table()


def _agreed_type(t: pa.DataType) -> pa.DataType:
    """The casts agreed between the engines: string and binary widths, dictionary encoding."""
    if pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return pa.string()
    if pa.types.is_large_binary(t) or pa.types.is_binary_view(t):
        return pa.binary()
    if pa.types.is_dictionary(t):
        return _agreed_type(t.value_type)
    return t


def _normalised(table: pa.Table) -> pl.DataFrame:
    fields = [pa.field(f.name, _agreed_type(f.type)) for f in table.schema]
    frame = pl.from_arrow(table.cast(pa.schema(fields)))
    floats = [c for c, t in frame.schema.items() if t in (pl.Float32, pl.Float64)]
    return frame.with_columns(pl.col(c).round(FLOAT_DECIMALS) for c in floats)


@dataclass(frozen=True)
class Difference:
    code: str  # COLUMNS, TYPES, ROW_COUNT, ROWS
    message_zh: str


def compare_tables(expected: pa.Table, actual: pa.Table) -> list[Difference]:
    """How ``actual`` (one engine's mart) differs from ``expected`` (the other's): columns and their
    order, types after the agreed casts, and rows as a multiset (floats to FLOAT_DECIMALS places).
    An empty list means the marts are identical."""
    diffs: list[Difference] = []
    if expected.schema.names != actual.schema.names:
        missing = [c for c in expected.schema.names if c not in actual.schema.names]
        extra = [c for c in actual.schema.names if c not in expected.schema.names]
        detail = "、".join(filter(None, [f"缺少 {missing}" if missing else "", f"多出 {extra}" if extra else ""]))
        diffs.append(Difference("COLUMNS", f"列不一致:{detail or '顺序不同'}"))
        return diffs
    types = [(f.name, _agreed_type(f.type), _agreed_type(actual.schema.field(f.name).type)) for f in expected.schema]
    wrong = [f"{name}({a} ≠ {b})" for name, a, b in types if a != b]
    if wrong:
        diffs.append(Difference("TYPES", "列类型不一致:" + "、".join(wrong)))
        return diffs
    if expected.num_rows != actual.num_rows:
        diffs.append(Difference("ROW_COUNT", f"行数不一致:{expected.num_rows} 行 ≠ {actual.num_rows} 行"))
    left, right = _normalised(expected), _normalised(actual)
    cols = left.columns
    counted_left = left.group_by(cols, maintain_order=False).len("__n")
    counted_right = right.group_by(cols, maintain_order=False).len("__n")
    only_left = counted_left.join(counted_right, on=[*cols, "__n"], how="anti", nulls_equal=True)
    only_right = counted_right.join(counted_left, on=[*cols, "__n"], how="anti", nulls_equal=True)
    if only_left.height or only_right.height:
        # which columns hold the difference, never the values (marts carry IDs and names)
        columns = [c for c in cols if not left[c].sort(nulls_last=True).equals(right[c].sort(nulls_last=True))]
        diffs.append(Difference("ROWS", f"行内容不一致:{only_left.height} 组行仅见于一方、{only_right.height} 组行仅见于另一方;"
                                        f"取值不同的列:{'、'.join(columns) or '(各列取值相同,组合不同)'}"))
    return diffs
