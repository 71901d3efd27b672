"""The synthetic province: ``jiuzhu generate --scale tiny|small|medium|province --seed N --out DIR``.

Layout of ``DIR``::

    inbox/<department>/<batch_id>/manifest.json + data files   what departments deliver
    truth/persons/, truth/households/, truth/household_months/  ground truth (never under inbox/)
    truth/defects.parquet, truth/batches.parquet                 every injected defect and batch event
    generation.json                                              parameters and counts

Deterministic for a seed: counties are drawn independently (one random stream per county), in
code order, so the same seed gives the same bytes whatever the scale's memory strategy. Memory is
bounded by the largest county: a prefecture's rows are staged to Parquet and its arrays dropped
before the next one starts.
"""

from __future__ import annotations

import datetime as _dt
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from jiuzhu import departments, regions
from jiuzhu.synth import deliver, population, simulate
from jiuzhu.synth.feeds import CountyFeeds, _date

SCALES = {"tiny": 2_000, "small": 200_000, "medium": 5_000_000, "province": 83_674_866}
WINDOW_START = _dt.date(2024, 11, 1)
MONTHS = 24
TZ = "+08:00"
# (persons × months) matrices of one part must stay well below the 8 GiB bound: 400,000 persons
# take about 2 GiB (the largest county, 2.7 million people at province scale, took 11.6 GiB whole)
MAX_PERSONS_PER_PART = 400_000


@dataclass(frozen=True)
class Plan:
    scale: str | int  # a named scale, or a number of persons (tests use small custom sizes)
    seed: int
    out: Path
    months: int = MONTHS
    window_start: _dt.date = WINDOW_START

    @property
    def persons(self) -> int:
        return self.scale if isinstance(self.scale, int) else SCALES[self.scale]

    @property
    def split_by_prefecture(self) -> bool:
        """Large deliveries come as one file per prefecture (as departments split big extracts)."""
        return self.persons >= 1_000_000


def county_targets(total: int) -> dict[str, int]:
    """Persons per county in proportion to the census, by largest remainder (sums to ``total``)."""
    census = regions.county_census()
    pop_total = sum(c.pop_total for c in census.values())
    raw = {code: total * c.pop_total / pop_total for code, c in census.items()}
    out = {code: int(v) for code, v in raw.items()}
    short = total - sum(out.values())
    for code in sorted(raw, key=lambda k: (-(raw[k] - out[k]), k))[:short]:
        out[code] += 1
    return out


def _prefecture_factor(county6: str) -> float:
    pref = county6[:4] + "00"
    return population.POOR_PREFECTURES.get(pref, population.RICH_PREFECTURES.get(pref, 0.95))


class _Stage:
    """Staged Parquet output: small tables are buffered per file and written in large row groups
    (one write per county made 57,000 tiny writes at tiny scale); the buffer is flushed when it
    holds more than ``limit`` rows, which bounds memory at province scale."""

    def __init__(self, limit: int = 2_000_000):
        self.writers: dict[Path, pq.ParquetWriter] = {}
        self.buffers: dict[Path, list[pa.Table]] = {}
        self.buffered = 0
        self.limit = limit

    def write(self, path: Path, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        self.buffers.setdefault(path, []).append(table)
        self.buffered += table.num_rows
        if self.buffered > self.limit:
            self.flush()

    def flush(self, prefix: Path | None = None) -> None:
        for path in sorted(self.buffers):
            tables = self.buffers[path]
            table = pa.concat_tables(tables, promote_options="permissive")
            w = self.writers.get(path)
            if w is None:
                path.parent.mkdir(parents=True, exist_ok=True)
                w = pq.ParquetWriter(path, table.schema, compression="lz4")
                self.writers[path] = w
            w.write_table(table.cast(w.schema))
        self.buffers.clear()
        self.buffered = 0

    def close(self, where=lambda path: True) -> None:
        self.flush()
        for path in [p for p in self.writers if where(p)]:
            self.writers.pop(path).close()


def _truth_tables(life: simulate.Life, feeds: CountyFeeds) -> tuple[pa.Table, pa.Table, pa.Table]:
    c, M = life.c, life.months
    persons = deliver.arrow_table({
        "person_id": c.p_id, "household_no": feeds.hh_no[c.p_hh], "name": c.p_name, "sex": c.p_sex,
        "birth_date": _date(c.p_birth), "ethnicity": c.p_eth, "relation": c.p_rel,
        "birthplace_code": c.p_birthplace, "arrive_month": c.p_start.astype(np.int16),
        "death_month": np.where(life.p_end >= simulate.NEVER, -1, life.p_end).astype(np.int16),
        "employment": life.emp.astype(np.int8), "base_wage": life.base_wage,
        "employee_pension": life.pension_emp, "residents_pension": life.pension_res,
        "insured": life.insured, "housing_fund": life.housing_fund, "student": life.student,
        "disability_grade": life.disab_grade.astype(np.int8), "disability_type": life.disab_type,
        "disability_month": np.where(life.disab_month >= simulate.NEVER, -2, life.disab_month).astype(np.int16),
        "job_loss_month": np.where(life.job_loss >= simulate.NEVER, -1, life.job_loss).astype(np.int16),
        "illness_month": np.where(life.illness >= simulate.NEVER, -1, life.illness).astype(np.int16),
    })
    households = deliver.arrow_table({
        "household_no": feeds.hh_no, "county_code": np.full(c.n_households, c.code, dtype=object),
        "village_code": c.hh_village, "urban": c.hh_urban, "economic_z": c.hh_z.round(4),
        "has_supporter": c.hh_supporter,
        "move_month": np.where(life.hh_move_month >= simulate.NEVER, -1, life.hh_move_month).astype(np.int16),
        "moved_to_village": life.hh_village_by_move,
    })
    hh = np.repeat(np.arange(c.n_households), M)
    mm = np.tile(np.arange(M), c.n_households)
    months = np.array([str(np.datetime64(life.window_start, "M") + np.timedelta64(int(m), "M")) for m in range(M)])
    size = np.maximum(life.members, 1)
    household_months = deliver.arrow_table({
        "household_no": feeds.hh_no[hh], "month": months[mm].astype(object),
        "county_code": life.hh_county.reshape(-1), "members": life.members.reshape(-1).astype(np.int16),
        "counted_income": life.income.reshape(-1), "income_per_capita": (life.income / size).round(2).reshape(-1),
        "standard": life.standard.reshape(-1), "deposits": life.deposits.reshape(-1),
        "assets_ok": life.assets_ok.reshape(-1), "public_payroll": life.payroll_hh.reshape(-1),
        "eligible": life.eligible.reshape(-1), "hardship": life.hardship.reshape(-1),
        "status": np.array([simulate.STATUS_NAMES[s] for s in range(5)], dtype=object)[life.status.reshape(-1)],
        "benefit": life.benefit.reshape(-1), "monitored": life.monitored.reshape(-1),
    })
    return persons, households, household_months


def generate(scale: str | int, seed: int, out: Path | str, months: int = MONTHS, progress=None,
             counties: list[str] | None = None) -> dict:
    """Generate the province; with ``counties``, only those counties at the scale's density
    (used to measure the memory bound, which is set by the largest county)."""
    plan = Plan(scale, int(seed), Path(out), months)
    if plan.out.exists() and any(plan.out.iterdir()):
        raise FileExistsError(f"{plan.out} is not empty; choose a new --out")
    stage_dir = plan.out / "_staging"
    truth_dir = plan.out / "truth"
    depts = departments.all_departments()
    targets = county_targets(plan.persons)
    all_counties = sorted(targets)
    if counties:
        unknown = set(counties) - set(targets)
        if unknown:
            raise ValueError(f"unknown county codes: {sorted(unknown)}")
        targets = {c: (n if c in counties else 0) for c, n in targets.items()}
    by_pref: dict[str, list[str]] = {}
    for code in all_counties:
        by_pref.setdefault(code[:4] + "00", []).append(code)
    totals = {"persons": 0, "households": 0}
    stage = _Stage()
    for p_i, (pref, counties) in enumerate(sorted(by_pref.items())):
        part = pref if plan.split_by_prefecture else "all"
        for code in counties:
            n = targets[code]
            if n == 0:
                continue
            index = all_counties.index(code)
            rng = np.random.default_rng([plan.seed, index])
            county = population.build_county(rng, code, index, n, plan.window_start)
            simulate.schedule_arrivals(rng, county, plan.months, plan.window_start)
            population.assign_ids(rng, county)
            totals["persons"] += county.n_persons
            totals["households"] += county.n_households
            for p_no, piece in enumerate(population.split(county, MAX_PERSONS_PER_PART)):
                # a part of a county has its own stream; a county small enough has one part and keeps rng
                prng = rng if p_no == 0 else np.random.default_rng([plan.seed, index, p_no])
                life = simulate.simulate(prng, piece, plan.months, plan.window_start, _prefecture_factor(code),
                                         all_counties)
                feeds = CountyFeeds(prng, life)
                for dept in depts:
                    builder = getattr(feeds, dept.slug)
                    for m in range(plan.months):
                        cols = builder(m)
                        if len(next(iter(cols.values()))):
                            stage.write(stage_dir / dept.slug / f"{m:02d}" / f"{part}.parquet", deliver.arrow_table(cols))
                persons, households, household_months = _truth_tables(life, feeds)
                for name, table in (("persons", persons), ("households", households),
                                    ("household_months", household_months)):
                    stage.write(truth_dir / name / f"{pref}.parquet", table)
                del life, feeds, persons, households, household_months
        # a prefecture's files are complete once its counties are done (split mode)
        stage.close(lambda path, pref=pref: path.stem == pref)
        if progress:
            progress(f"{p_i + 1}/{len(by_pref)} {pref}")
    stage.close()
    ledger = deliver.Ledger(truth_dir / "defects.parquet")
    batches = []
    for d_i, dept in enumerate(depts):
        carry: dict = {}
        for m in range(plan.months):
            batches.append(_finalise_batch(plan, dept, d_i, m, stage_dir, ledger, carry))
    shutil.rmtree(stage_dir, ignore_errors=True)
    ledger.close()
    pq.write_table(pa.Table.from_pylist(batches), truth_dir / "batches.parquet")
    summary = {
        "scale": plan.scale, "seed": plan.seed, "months": plan.months,
        "window_start": plan.window_start.isoformat(), "persons": totals["persons"],
        "counties": sorted(counties) if counties else "all",
        "households": totals["households"], "departments": [d.slug for d in depts],
        "batches": len(batches), "delivered_rows": int(sum(b["records"] for b in batches)),
        "defects": ledger.count,
    }
    (plan.out / "generation.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2, sort_keys=True) + "\n", "utf-8")
    return summary


CHUNK_ROWS = 1_000_000  # rows finalised at a time: bounds memory whatever the batch size


def _chunks_of(paths: list[Path]):
    """Staged rows as dicts of numpy columns, CHUNK_ROWS at a time, in file order."""
    for path in paths:
        for batch in pq.ParquetFile(path).iter_batches(batch_size=CHUNK_ROWS):
            cols = {}
            for name, col in zip(batch.schema.names, batch.columns, strict=True):
                if pa.types.is_date32(col.type):
                    cols[name] = col.to_numpy(zero_copy_only=False).astype("datetime64[D]")
                elif pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
                    cols[name] = np.array(col.to_pylist(), dtype=object)
                else:
                    cols[name] = col.to_numpy(zero_copy_only=False)
            yield cols


def _finalise_batch(plan: Plan, dept: departments.Department, d_i: int, m: int, stage_dir: Path,
                    ledger: deliver.Ledger, carry: dict) -> dict:
    period = str(np.datetime64(plan.window_start, "M") + np.timedelta64(m, "M"))
    period_end = simulate.month_start(plan.window_start, m + 1) - _dt.timedelta(days=1)
    bid = deliver.batch_id(dept, period)
    folder = plan.out / "inbox" / dept.slug / bid
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([plan.seed, 10_000 + d_i, m])
    parts_dir = stage_dir / dept.slug / f"{m:02d}"
    part_files = sorted(parts_dir.glob("*.parquet")) if parts_dir.exists() else []
    ext = dept.delivery.format
    corrections_due = carry.pop("rows", [])
    next_carry: dict = {}
    extra = next_carry if (dept.slug == "renshe" and m + 1 < plan.months) else None
    writers: list[deliver.FileWriter] = []
    for part in part_files:
        stem = f"part-{part.stem}" if plan.split_by_prefecture else f"{dept.slug}_{period.replace('-', '')}"
        writer = None
        for c_i, cols in enumerate(_chunks_of([part])):
            if writer is None or ext == "xlsx":  # an XLSX file holds one chunk, below Excel's limit
                name = f"{stem}.{ext}" if c_i == 0 else f"{stem}-{c_i + 1}.{ext}"
                writer = deliver.FileWriter(dept, folder / name)
                writers.append(writer)
            if dept.slug == "renshe":
                cols["record_type"] = np.full(len(cols["id_number"]), "正常", dtype=object)
            ledger.offset = writer.rows
            out_cols = deliver.apply_defects(rng, dept, cols, period_end, ledger, bid, writer.path.name, extra)
            ledger.offset = 0
            writer.append(out_cols)
    if corrections_due:
        if not writers:
            writers.append(deliver.FileWriter(dept, folder / f"{dept.slug}_{period.replace('-', '')}.{ext}"))
        last = writers[-1]
        ledger.offset = last.rows
        last.append(_corrections(corrections_due, ledger, dept.slug, bid, last.path.name))
        ledger.offset = 0
    carry.update(next_carry)
    files = []
    for w in writers:
        w.close()
        files.append({"name": w.path.name, "records": w.rows, "sha256": deliver.sha256_file(w.path),
                      "bytes": w.path.stat().st_size})
    if not files:  # a month with nothing to report still gets a batch: an empty, declared delivery
        name = f"{dept.slug}_{period.replace('-', '')}.{ext}"
        _write_empty(dept, folder / name)
        files.append({"name": name, "records": 0, "sha256": deliver.sha256_file(folder / name),
                      "bytes": (folder / name).stat().st_size})
    due = simulate.month_start(plan.window_start, m + 1).replace(day=dept.delivery.agreed_day)
    late = bool(rng.random() < deliver.BATCH_RATES["late"])
    delivered = due + _dt.timedelta(days=int(rng.integers(4, 21)) if late else -int(rng.integers(0, 4)))
    manifest = {
        "department": dept.slug, "department_name": dept.name, "department_code": dept.code,
        "batch_id": bid, "contract_version": deliver.CONTRACT_VERSION, "period": period,
        "extract_date": (period_end + _dt.timedelta(days=1)).isoformat(),
        "delivered_at": f"{delivered.isoformat()}T09:{(d_i * 7) % 60:02d}:00{TZ}",
        "due_date": due.isoformat(), "format": dept.delivery.format, "encoding": dept.delivery.encoding,
        "amount_unit": dept.delivery.amount_unit, "record_count": sum(f["records"] for f in files),
        "files": files,
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", "utf-8")
    replayed = bool(m < plan.months - 1 and rng.random() < deliver.BATCH_RATES["replayed"])
    if replayed:  # the department sends the very same batch again, in a new folder
        shutil.copytree(folder, folder.parent / f"{bid}__resend")
    return {"department": dept.slug, "batch_id": bid, "period": period, "records": manifest["record_count"],
            "files": len(files), "late": late, "replayed": replayed, "due_date": due.isoformat(),
            "delivered_at": manifest["delivered_at"]}


def _corrections(rows: list[dict], ledger, slug, bid, name) -> dict:
    """Last month's wrongly delivered rows, sent again with the right values (record_type 更正)."""
    out = {}
    for k in rows[0]:
        values = [("更正" if k == "record_type" else r[k]) for r in rows]
        sample = rows[0][k]
        out[k] = np.array(values, dtype=np.float64 if isinstance(sample, (float, np.floating)) else object)
    out["__scientific__"] = np.zeros(len(rows), dtype=bool)
    for i in range(len(rows)):
        ledger.add(slug, bid, name, i + 1, "correction", deliver.AMOUNT_COLUMN[slug])
    return out


def _write_empty(dept: departments.Department, path: Path) -> None:
    fmt = dept.delivery.format
    if fmt == "jsonl":
        path.write_text("", "utf-8")
    elif fmt == "csv":
        path.write_bytes(b"")
    elif fmt == "parquet":
        pq.write_table(pa.table({"empty": pa.array([], pa.string())}), path)
    else:
        deliver._write_xlsx({"empty": np.array([], dtype=object)}, np.zeros(0, dtype=bool), "empty", path)
