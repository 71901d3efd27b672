"""The serving index: one household's rows, as of any indexed Delta version, in milliseconds.

A scan of the lake for one family costs ~0.5 s even on the tiny province (opening 29 Delta tables)
and ~250 ms per feed at 10 M rows with sorted files (shared PERFORMANCE.md); a SQLite B-tree on the
person key answers in ~1.5 ms. The index is a copy of the silver person-keyed tables, the policy
tables and the batch ledgers, refreshed incrementally from their Delta logs:

- every data file a Delta commit adds is read once; each distinct row is stored once and linked to
  the files that hold it (a merge that rewrites a file adds links, not copies);
- a file's life (the version that added it, the version that removed it) is kept, so the rows of
  any version ``v`` are those of the files alive at ``v`` — time travel without the lake;
- each version's commit time and schema are kept, so "as of a date" resolves to the same versions
  the lake's own history gives (``version_at``).

Person-keyed tables are looked up by ``person_key`` (the persons also by ``household_no``); the
served assessments (``verification.served``) by ``household_no``, and each of their versions keeps
the silver versions it was computed from (the commit's ``jiuzhu.silver_versions``).

Only the Delta protocol's JSON commits are read (add, remove, metaData, commitInfo); a table using
deletion vectors or column mapping is refused with a clear error rather than indexed wrongly. The
refresh commits once per Delta version, so a crash leaves the index at a whole version and a rerun
goes on from there. Readers use their own connections (WAL) while a refresh runs.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Iterable
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from deltalake import DeltaTable, Schema

# SQLite keeps dates as day numbers and booleans as 0/1; everything is cast back on the way out
_STORAGE = {pa.date32(): pa.int32(), pa.bool_(): pa.int8()}


class ServingIndexError(RuntimeError):
    pass


# the column a keyed table is looked up by (person_key unless named here), and further look-ups
KEY_COLUMNS = {"assessment_current": "household_no", "assessment_current_reasons": "household_no"}
SECONDARY_KEYS = {"persons": "household_no"}
_STAGING = "__bulk"  # suffix of the tables a bulk load fills before they take the table's place
BUILT_FROM = "jiuzhu.silver_versions"  # commit metadata: the input versions a derived table was computed from


def key_column(name: str) -> str:
    return KEY_COLUMNS.get(name, "person_key")


def _sql_type(t: pa.DataType) -> str:
    if pa.types.is_integer(t) or pa.types.is_boolean(t) or pa.types.is_date(t):
        return "INTEGER"
    if pa.types.is_floating(t):
        return "REAL"
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "TEXT"
    raise ServingIndexError(f"the serving index does not store columns of type {t}")


def _ident(name: str) -> str:
    """Table and column names come from the Delta schemas of our own tables; quoted all the same."""
    return '"' + name.replace('"', '""') + '"'


def _arrow_schema(schema_string: str) -> pa.Schema:
    return pa.schema(Schema.from_json(schema_string).to_arrow())


class ServingIndex:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.con = sqlite3.connect(str(self.path), timeout=60, check_same_thread=False)
        self.con.execute("PRAGMA journal_mode=WAL")
        self.con.execute("PRAGMA synchronous=NORMAL")
        self.con.executescript("""
            CREATE TABLE IF NOT EXISTS tables (name TEXT PRIMARY KEY, path TEXT NOT NULL, keyed INTEGER NOT NULL,
                earliest_version INTEGER, indexed_version INTEGER, columns_json TEXT NOT NULL DEFAULT '[]');
            CREATE TABLE IF NOT EXISTS versions (table_name TEXT NOT NULL, version INTEGER NOT NULL,
                committed_ms INTEGER NOT NULL, schema_string TEXT NOT NULL, PRIMARY KEY (table_name, version));
            CREATE TABLE IF NOT EXISTS files (file_id INTEGER PRIMARY KEY, table_name TEXT NOT NULL,
                path TEXT NOT NULL, added_version INTEGER NOT NULL, removed_version INTEGER);
            CREATE INDEX IF NOT EXISTS files_by_table ON files (table_name, path);
        """)
        if "built_from" not in {r[1] for r in self.con.execute("PRAGMA table_info(versions)")}:
            try:
                self.con.execute("ALTER TABLE versions ADD COLUMN built_from TEXT")  # an index made before it
            except sqlite3.OperationalError as err:
                if "duplicate column" not in str(err):  # another process added it first
                    raise
            self.con.commit()
        self._schemas: dict[tuple[str, int], pa.Schema] = {}

    def close(self) -> None:
        self.con.close()

    # --- refresh ------------------------------------------------------------------------------------

    def refresh(self, tables: dict[str, tuple[Path, bool]], *, start: str = "history"
                ) -> dict[str, tuple[int | None, int]]:
        """Bring each ``name: (delta path, keyed by person_key)`` up to its latest version;
        return ``name: (version before, version after)``.

        A table the index does not hold yet is indexed from its first version (``start="history"``:
        every version since is served) or, in one bulk load, as it stands now (``"snapshot"``: ~8 ×
        faster, the way to build an index at province scale; earlier versions are read from the lake).
        Later refreshes go on version by version either way."""
        if start not in ("history", "snapshot"):
            raise ValueError(f"unknown start {start!r}")
        # one refresher at a time (the Dagster asset, a benchmark, a test): a bulk load's three
        # transactions and the file ids it reserves must not interleave with another's
        with open(self.path.with_name(self.path.name + ".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            done = {}
            for name, (path, keyed) in sorted(tables.items()):
                if not (Path(path) / "_delta_log").is_dir():
                    continue
                held = self._indexed_version(name)
                if held is not None:
                    with self.con:
                        self._create_indexes(name, keyed)  # a look-up added since the index was made
                elif start == "snapshot":
                    if self.con.execute("SELECT 1 FROM tables WHERE name = ?", [name]).fetchone() is None:
                        with self.con:
                            self.con.execute("INSERT INTO tables (name, path, keyed) VALUES (?, ?, ?)",
                                             [name, str(path), int(keyed)])
                    self._snapshot(name, Path(path), keyed)
                    done[name] = (None, self._indexed_version(name))
                    continue
                done[name] = self._refresh_table(name, Path(path), keyed)
        return done

    def _indexed_version(self, name: str) -> int | None:
        row = self.con.execute("SELECT indexed_version FROM tables WHERE name = ?", [name]).fetchone()
        return row[0] if row else None

    def _refresh_table(self, name: str, path: Path, keyed: bool) -> tuple[int | None, int]:
        row = self.con.execute("SELECT indexed_version FROM tables WHERE name = ?", [name]).fetchone()
        before = row[0] if row else None
        log = path / "_delta_log"
        commits = commit_versions(path)
        if not commits:
            raise ServingIndexError(f"{name}: Delta 日志中没有提交记录")
        latest = commits[-1]
        if row is None:
            self.con.execute("INSERT INTO tables (name, path, keyed) VALUES (?, ?, ?)", [name, str(path), int(keyed)])
            self.con.commit()
        elif before is None:
            with self.con:
                self.con.execute("BEGIN IMMEDIATE")
                self._reset(name)  # a bulk load that did not finish: start from the first version
        start = 0 if before is None else before + 1
        if start <= latest and start not in commits:
            self._snapshot(name, path, keyed)  # the JSON commits were cleaned up: start again from now
            return before, self.con.execute("SELECT indexed_version FROM tables WHERE name = ?", [name]).fetchone()[0]
        schema_string = self._last_schema(name)
        for version in range(start, latest + 1):
            actions = [json.loads(line) for line in (log / f"{version:020d}.json").read_text("utf-8").splitlines()
                       if line.strip()]
            with self.con:  # one transaction per Delta version
                for action in actions:
                    if "protocol" in action:
                        _check_protocol(name, action["protocol"])
                    elif "metaData" in action:
                        schema_string = action["metaData"]["schemaString"]
                        partitions = action["metaData"].get("partitionColumns") or []
                        self._ensure_columns(name, _arrow_schema(schema_string), keyed, partitions)
                if schema_string is None:
                    raise ServingIndexError(f"{name}: 版本{version}之前没有表结构(metaData)")
                committed_ms = _commit_ms(actions, log / f"{version:020d}.json")
                for action in actions:
                    if "remove" in action:
                        self.con.execute("UPDATE files SET removed_version = ? WHERE table_name = ? AND path = ? "
                                         "AND removed_version IS NULL", [version, name, action["remove"]["path"]])
                    elif "add" in action:
                        self._add_file(name, path, action["add"], version, _arrow_schema(schema_string))
                self.con.execute("INSERT OR REPLACE INTO versions VALUES (?, ?, ?, ?, ?)",
                                 [name, version, committed_ms, schema_string, _built_from(actions)])
                self.con.execute("UPDATE tables SET indexed_version = ?, earliest_version = coalesce(earliest_version, ?) "
                                 "WHERE name = ?", [version, version, name])
        return before, latest

    def _snapshot(self, name: str, path: Path, keyed: bool) -> None:
        """Index the table as it stands now (history before it is served by the lake), in one bulk
        load: every row hashed, each distinct row stored once (found in Polars), rows and links written
        in row-id order into tables without indexes, the indexes built afterwards (a B-tree built
        once, not grown row by row)."""
        dt = DeltaTable(str(path))
        version = dt.version()
        schema_string = dt.schema().to_json()
        schema = _arrow_schema(schema_string)
        actions = pa.table(dt.get_add_actions(flatten=False)).to_pylist()
        cache = self.con.execute("PRAGMA cache_size").fetchone()[0]
        self.con.execute("PRAGMA cache_size = -1048576")  # 1 GiB of pages while the B-trees are built
        try:
            self._bulk_load(name, path, keyed, dt, version, schema_string, schema, actions)
        finally:
            self.con.execute(f"PRAGMA cache_size = {int(cache)}")

    def _bulk_load(self, name: str, path: Path, keyed: bool, dt: DeltaTable, version: int, schema_string: str,
                   schema: pa.Schema, actions: list[dict]) -> None:
        """Three steps: (1) staging tables made; (2) the rows and links appended to them through ADBC's
        SQLite driver (``verification.sqlite_append``: Arrow columns bound in C, ~3 × faster than
        ``executemany``), with no index to maintain; (3) in one transaction, the table's earlier
        content forgotten, the staging tables put in its place, the files registered, the indexes
        built and the version claimed. Readers see the earlier content until (3) commits, never a
        table half loaded; a crash before it leaves only staging tables, dropped by the next load."""
        adds = [{"path": a["path"], "partitionValues": _partition_text(a.get("partition"))} for a in actions]
        columns = list(schema.names)
        with self.con:
            self.con.execute("BEGIN IMMEDIATE")
            self._drop_staging(name)
            self._create_tables(name, schema, _STAGING)
            first_file = self.con.execute("SELECT coalesce(max(file_id), 0) + 1 FROM files").fetchone()[0]
        file_ids = list(range(first_file, first_file + len(adds)))  # free while the refresh lock is held
        # pass 1: every row's hash; a row's id is the position of the first row with its hash
        # (each distinct row stored once), computed in Polars, not in a Python dict
        sizes, parts = [], []
        for add in adds:
            h1, h2 = _row_hashes(self._file_rows(path, add, schema, columns))
            sizes.append(len(h1))
            parts.append(pl.DataFrame({"h1": h1, "h2": h2}))
        hashes = (pl.concat(parts) if parts else pl.DataFrame(schema={"h1": pl.UInt64, "h2": pl.UInt64})
                  ).with_row_index("i")
        first = hashes.group_by("h1", "h2").agg(pl.col("i").min().alias("first"))
        hashes = hashes.join(first, on=["h1", "h2"], how="left", maintain_order="left")
        del first, parts
        # pass 2: the rows, in row-id order, and their links, as Arrow streams appended by ADBC in a
        # child process (verification.sqlite_append says why not in this one)
        with tempfile.TemporaryDirectory(prefix=".bulk-", dir=self.path.parent) as tmp:
            rows_file, links_file = Path(tmp) / "rows.arrows", Path(tmp) / "links.arrows"
            key_fields = [pa.field("_row_id", pa.int64()), pa.field("_row_hash", pa.binary())]
            row_schema = pa.schema([*key_fields, *(pa.field(c, self._storage_type(schema, c)) for c in columns)])
            link_schema = pa.schema([pa.field(c, pa.int64()) for c in ("_row_id", "_file_id", "_pos")])
            with pa.ipc.new_stream(str(rows_file), row_schema) as rows_out, \
                    pa.ipc.new_stream(str(links_file), link_schema) as links_out:
                offset = 0
                for add, size, file_id in zip(adds, sizes, file_ids, strict=True):
                    part = hashes.slice(offset, size).with_row_index("pos")
                    new = part.get_column("first") == part.get_column("pos") + offset  # the first of its kind
                    rows = self._file_rows(path, add, schema, columns).filter(new.to_arrow())
                    fresh = part.filter(new)
                    keys = [(fresh.get_column("first") + 1).cast(pl.Int64).to_arrow(),
                            pa.array(_digests(fresh.get_column("h1"), fresh.get_column("h2")), pa.binary())]
                    rows_out.write_table(pa.Table.from_arrays(
                        [*keys, *(c.cast(f.type) for c, f in zip(rows.columns, list(row_schema)[2:], strict=True))],
                        schema=row_schema))
                    links = part.select((pl.col("first") + 1).cast(pl.Int64).alias("_row_id"),
                                        pl.lit(file_id, pl.Int64).alias("_file_id"),
                                        pl.col("pos").cast(pl.Int64).alias("_pos")).sort("_row_id", "_pos")
                    links_out.write_table(links.to_arrow().cast(link_schema))
                    offset += size
            done = subprocess.run([sys.executable, "-m", "verification.sqlite_append", str(self.path),
                                   "t_" + name + _STAGING, str(rows_file), "l_" + name + _STAGING, str(links_file)],
                                  capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise ServingIndexError(f"{name}: 批量写入服务索引失败: {done.stderr.strip()[-2000:]}")
        last = dt.history(1)[0]
        with self.con:
            self.con.execute("BEGIN IMMEDIATE")
            self._reset(name)
            for prefix in ("t_", "l_"):
                self.con.execute(f"ALTER TABLE {_ident(prefix + name + _STAGING)} RENAME TO {_ident(prefix + name)}")
            self.con.executemany("INSERT INTO files (file_id, table_name, path, added_version) VALUES (?, ?, ?, ?)",
                                 [(i, name, add["path"], version) for i, add in zip(file_ids, adds, strict=True)])
            self.con.execute("UPDATE tables SET columns_json = ? WHERE name = ?", [json.dumps(columns), name])
            self._create_indexes(name, keyed, columns)
            self.con.execute("INSERT INTO versions VALUES (?, ?, ?, ?, ?)",
                             [name, version, int(last["timestamp"]), schema_string, last.get(BUILT_FROM)])
            self.con.execute("UPDATE tables SET indexed_version = ?, earliest_version = ? WHERE name = ?",
                             [version, version, name])

    def _drop_staging(self, name: str) -> None:
        for prefix in ("t_", "l_"):
            self.con.execute(f"DROP TABLE IF EXISTS {_ident(prefix + name + _STAGING)}")

    def _reset(self, name: str) -> None:
        """Forget everything held of a table (its rows, links, files and versions), in the caller's
        transaction: before a bulk load's tables take its place, or before a history build of a
        table never claimed."""
        for prefix in ("t_", "l_"):
            self.con.execute(f"DROP TABLE IF EXISTS {_ident(prefix + name)}")
        self.con.execute("DELETE FROM files WHERE table_name = ?", [name])
        self.con.execute("DELETE FROM versions WHERE table_name = ?", [name])
        self.con.execute("UPDATE tables SET columns_json = '[]', indexed_version = NULL, earliest_version = NULL "
                         "WHERE name = ?", [name])

    def _last_schema(self, name: str) -> str | None:
        row = self.con.execute("SELECT schema_string FROM versions WHERE table_name = ? ORDER BY version DESC LIMIT 1",
                               [name]).fetchone()
        return row[0] if row else None

    def _columns(self, name: str) -> list[str]:
        return json.loads(self.con.execute("SELECT columns_json FROM tables WHERE name = ?", [name]).fetchone()[0])

    def _ensure_columns(self, name: str, schema: pa.Schema, keyed: bool, partitions: list[str], *,
                        indexes: bool = True) -> None:
        """The SQLite table holds the union of every version's columns (schema evolution adds).

        Each distinct row is stored once (``t_<name>``, found again by its hash); which files hold
        it, and where, is ``l_<name>``: a merge that rewrites a file costs a link per row, not a copy
        (copies made the index of the small province 1.8 GiB)."""
        have = self._columns(name)
        table = _ident("t_" + name)
        if not have:
            self._create_tables(name, schema)
            have = list(schema.names)
        if indexes:
            self._create_indexes(name, keyed, have)
        for f in schema:
            if f.name not in have:
                self.con.execute(f"ALTER TABLE {table} ADD COLUMN {_ident(f.name)} {_sql_type(f.type)}")
                have.append(f.name)
        self.con.execute("UPDATE tables SET columns_json = ? WHERE name = ?", [json.dumps(have), name])

    def _create_tables(self, name: str, schema: pa.Schema, suffix: str = "") -> None:
        cols = ", ".join(f"{_ident(f.name)} {_sql_type(f.type)}" for f in schema)
        self.con.execute(f"CREATE TABLE IF NOT EXISTS {_ident('t_' + name + suffix)} (_row_id INTEGER PRIMARY KEY, "
                         f"_row_hash BLOB NOT NULL, {cols})")
        self.con.execute(f"CREATE TABLE IF NOT EXISTS {_ident('l_' + name + suffix)} (_row_id INTEGER NOT NULL, "
                         "_file_id INTEGER NOT NULL, _pos INTEGER NOT NULL, PRIMARY KEY (_row_id, _file_id, _pos))"
                         " WITHOUT ROWID")

    def _create_indexes(self, name: str, keyed: bool, columns: list[str] | None = None) -> None:
        """The look-up indexes (idempotent: also adds one an index made before it lacks)."""
        columns = columns if columns is not None else self._columns(name)
        table = _ident("t_" + name)
        self.con.execute(f"CREATE UNIQUE INDEX IF NOT EXISTS {_ident('h_' + name)} ON {table} (_row_hash)")
        if keyed:
            self.con.execute(f"CREATE INDEX IF NOT EXISTS {_ident('k_' + name)} ON {table} ({_ident(key_column(name))})")
            if name in SECONDARY_KEYS and SECONDARY_KEYS[name] in columns:
                self.con.execute(f"CREATE INDEX IF NOT EXISTS {_ident('s_' + name)} ON {table} "
                                 f"({_ident(SECONDARY_KEYS[name])})")
        else:
            self.con.execute(f"CREATE INDEX IF NOT EXISTS {_ident('f_' + name)} ON {_ident('l_' + name)} "
                             "(_file_id, _pos)")

    @staticmethod
    def _storage_type(schema: pa.Schema, column: str) -> pa.DataType:
        t = schema.field(column).type
        return pa.string() if pa.types.is_string_view(t) else _STORAGE.get(t, t)

    @staticmethod
    def _file_rows(root: Path, add: dict, schema: pa.Schema, columns: list[str]) -> pa.Table:
        """A data file's rows in the index's column order and storage types (partition values and
        columns it lacks filled in)."""
        data = pq.read_table(root / urllib.parse.unquote(add["path"]))
        for col, value in (add.get("partitionValues") or {}).items():
            if col not in data.column_names:
                data = data.append_column(col, pa.array([value] * data.num_rows, pa.string()).cast(schema.field(col).type))
        arrays = []
        for col in columns:
            if col in data.column_names:
                arr = data.column(col)
                if pa.types.is_string_view(arr.type):  # files some writers make; the index stores text
                    arr = arr.cast(pa.string())
                arrays.append(arr.cast(_STORAGE.get(arr.type, arr.type)))
            else:
                arrays.append(pa.nulls(data.num_rows))
        return pa.Table.from_arrays(arrays, names=columns)

    def _add_file(self, name: str, root: Path, add: dict, version: int, schema: pa.Schema) -> None:
        cur = self.con.execute("INSERT INTO files (table_name, path, added_version) VALUES (?, ?, ?)",
                               [name, add["path"], version])
        file_id = cur.lastrowid
        columns = self._columns(name)
        data = self._file_rows(root, add, schema, columns)
        hashes = _digests(*_row_hashes(data))
        values = [c.to_pylist() for c in data.columns]
        names = ", ".join(_ident(c) for c in columns)
        self.con.execute("DROP TABLE IF EXISTS temp.stage")
        self.con.execute(f"CREATE TEMP TABLE stage (_row_hash BLOB, _pos INTEGER, {names})")
        self.con.executemany(f"INSERT INTO temp.stage VALUES ({', '.join('?' * (len(columns) + 2))})",
                             ((digest, pos, *(v[pos] for v in values)) for pos, digest in enumerate(hashes)))
        self.con.execute(f"INSERT OR IGNORE INTO {_ident('t_' + name)} (_row_hash, {names}) "
                         f"SELECT _row_hash, {names} FROM temp.stage ORDER BY _pos")
        self.con.execute(f"INSERT INTO {_ident('l_' + name)} (_row_id, _file_id, _pos) "
                         f"SELECT t._row_id, ?, s._pos FROM temp.stage s JOIN {_ident('t_' + name)} t "
                         "ON t._row_hash = s._row_hash", [file_id])
        self.con.execute("DROP TABLE temp.stage")

    # --- look-ups -----------------------------------------------------------------------------------

    def state(self) -> dict[str, tuple[int, int]]:
        """``name: (earliest, latest)`` indexed versions."""
        return {n: (e, v) for n, e, v in self.con.execute(
            "SELECT name, earliest_version, indexed_version FROM tables WHERE indexed_version IS NOT NULL")}

    def version_at(self, name: str, as_of_ms: int) -> int | None:
        """The latest version committed at or before ``as_of_ms`` (None: the table did not exist yet)."""
        row = self.con.execute("SELECT max(version) FROM versions WHERE table_name = ? AND committed_ms <= ?",
                               [name, as_of_ms]).fetchone()
        return row[0]

    def version_built_from(self, name: str, built_from: str) -> int | None:
        """The newest version of a derived table computed from exactly ``built_from`` (canonical JSON)."""
        row = self.con.execute("SELECT max(version) FROM versions WHERE table_name = ? AND built_from = ?",
                               [name, built_from]).fetchone()
        return row[0]

    def schema(self, name: str, version: int) -> pa.Schema:
        key = (name, version)
        if key not in self._schemas:
            row = self.con.execute("SELECT schema_string FROM versions WHERE table_name = ? AND version <= ? "
                                   "ORDER BY version DESC LIMIT 1", [name, version]).fetchone()
            if row is None:
                raise ServingIndexError(f"{name}: 索引中没有版本{version}")
            self._schemas[key] = _arrow_schema(row[0])
        return self._schemas[key]

    def rows(self, name: str, version: int, keys: Iterable | None = None, column: str | None = None) -> pa.Table:
        """The rows of ``name`` at ``version`` (only those of ``keys`` for a keyed table: values of its
        key column, or of ``column``, one of its secondary keys), in the order of the files and of
        the rows in them, as the lake gives them."""
        schema = self.schema(name, version)
        cols = ", ".join("r." + _ident(f.name) for f in schema)
        sql = (f"SELECT {cols} FROM {_ident('t_' + name)} r JOIN {_ident('l_' + name)} l ON l._row_id = r._row_id "
               "JOIN files f ON f.file_id = l._file_id "
               "WHERE f.added_version <= ? AND (f.removed_version IS NULL OR f.removed_version > ?)")
        params: list = [version, version]
        if keys is not None:
            keys = list(keys)
            if column not in (None, key_column(name), SECONDARY_KEYS.get(name)):
                raise ServingIndexError(f"{name}: 没有按 {column} 的索引")
            sql += f" AND r.{_ident(column or key_column(name))} IN ({', '.join('?' * len(keys))})"
            params += keys
        sql += " ORDER BY l._file_id, l._pos"
        found = self.con.execute(sql, params).fetchall()
        columns = list(zip(*found, strict=True)) if found else [[] for _ in schema]
        arrays = [pa.array(values, _STORAGE.get(f.type, f.type)).cast(f.type) for f, values in zip(schema, columns,
                                                                                                    strict=True)]
        return pa.Table.from_arrays(arrays, schema=schema)


def _built_from(actions: list[dict]) -> str | None:
    for action in actions:
        if "commitInfo" in action:
            return action["commitInfo"].get(BUILT_FROM)
    return None


def _row_hashes(data: pa.Table) -> tuple[pl.Series, pl.Series]:
    """128 bits per row (two 64-bit Polars row hashes with fixed seeds) over the row's values in the
    index's column order: collisions are out of reach at province scale. A hash that changed (another
    Polars version) stores a row again, never links a wrong one."""
    if data.num_rows == 0:
        return pl.Series("h1", [], pl.UInt64), pl.Series("h2", [], pl.UInt64)
    frame = pl.from_arrow(data)
    if not isinstance(frame, pl.DataFrame):
        frame = frame.to_frame()
    a = frame.hash_rows(seed=0x6A757A6875)
    b = frame.hash_rows(seed=0x5348313532)
    return a.alias("h1"), b.alias("h2")


def _partition_text(values: dict | None) -> dict[str, str | None]:
    """Partition values as the Delta log spells them (deltalake's add actions give them typed)."""
    out = {}
    for key, value in (values or {}).items():
        if value is None or isinstance(value, str):
            out[key] = value
        elif isinstance(value, bool):
            out[key] = "true" if value else "false"
        else:
            out[key] = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return out


def _digests(a: pl.Series, b: pl.Series) -> list[bytes]:
    return [x.to_bytes(8, "little") + y.to_bytes(8, "little") for x, y in zip(a.to_list(), b.to_list(), strict=True)]


_COMMITS: dict[str, tuple[int, list[int]]] = {}


def commit_versions(path: Path) -> list[int]:
    """The versions whose JSON commit is in the table's Delta log, in order. A request resolves ~30
    tables: the listing is kept while the log folder's modification time stands (a commit adds a
    file, which changes it), trusted only once that time is 2 s old (coarse file-system clocks)."""
    log = os.path.join(path, "_delta_log")
    mtime = os.stat(log).st_mtime_ns
    cached = _COMMITS.get(log)
    if cached is not None and cached[0] == mtime and not (
            cached[1] and os.path.exists(os.path.join(log, f"{cached[1][-1] + 1:020d}.json"))):
        return cached[1]  # (a file system whose folder times stand still: the next commit seen all the same)
    versions = sorted(int(e.name[:-5]) for e in os.scandir(log) if e.name.endswith(".json") and e.name[:-5].isdigit())
    if time.time_ns() - mtime > 2_000_000_000:
        _COMMITS[log] = (mtime, versions)
    return versions


def _commit_ms(actions: list[dict], commit_file: Path) -> int:
    """A commit's time: its commitInfo timestamp, else the commit file's modification time."""
    for action in actions:
        if "commitInfo" in action and action["commitInfo"].get("timestamp") is not None:
            return action["commitInfo"]["timestamp"]
    return int(commit_file.stat().st_mtime * 1000)


def commit_times(path: Path) -> dict[int, int]:
    """Each version's commit time in ms, as the index keeps it (used where the lake is read)."""
    log = Path(path, "_delta_log")
    out = {}
    for version in commit_versions(path):
        commit_file = log / f"{version:020d}.json"
        actions = [json.loads(line) for line in commit_file.read_text("utf-8").splitlines() if '"commitInfo"' in line]
        out[version] = _commit_ms(actions, commit_file)
    return out


def _check_protocol(name: str, protocol: dict) -> None:
    features = set(protocol.get("readerFeatures") or []) | set(protocol.get("writerFeatures") or [])
    unsupported = features & {"deletionVectors", "columnMapping"}
    if unsupported:
        raise ServingIndexError(f"{name}: 表使用了服务索引不支持的 Delta 特性 {sorted(unsupported)},请改为直接读取数据湖")
