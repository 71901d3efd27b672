"""Benchmarks (``jiuzhu bench``): each stage run in its own process, repeated, reported as the
median and spread of wall time, rows per second and peak memory, in docs/benchmarks.md and JSON.

Never a timed assertion in a test: numbers live here. Stages are added as they land.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_GENERATE = """
import json, resource, sys
from jiuzhu import synth
counties = sys.argv[4].split(",") if len(sys.argv) > 4 else None
summary = synth.generate(sys.argv[1], int(sys.argv[2]), sys.argv[3], counties=counties)
print(json.dumps({"persons": summary["persons"], "rows": summary["delivered_rows"],
                  "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def _run_generate(scale: str, seed: int, workdir: Path, counties: list[str] | None = None) -> dict:
    out = workdir / f"gen-{scale}-{seed}"
    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    args = [sys.executable, "-c", _GENERATE, scale, str(seed), str(out)] + ([",".join(counties)] if counties else [])
    proc = subprocess.run(args, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - start
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    size = sum(p.stat().st_size for p in (out / "inbox").rglob("*") if p.is_file())
    shutil.rmtree(out, ignore_errors=True)
    return {"wall_s": wall, "persons": result["persons"], "rows": result["rows"],
            "peak_rss_mib": result["peak_rss_kib"] / 1024, "inbox_bytes": size}


def _run_largest_county(scale: str, seed: int, workdir: Path) -> dict:
    """The generator's memory is bounded by its largest county: generate only that county at the
    given scale's density (at province scale: the full 2.7 million people of the largest one)."""
    from jiuzhu import synth  # noqa: PLC0415

    targets = synth.county_targets(synth.SCALES[scale])
    largest = max(targets, key=targets.get)
    return _run_generate(scale, seed, workdir, [largest])


STAGES = {"generate": _run_generate, "generate-largest-county": _run_largest_county}


def run(scales: list[str], stages: list[str], repeat: int, out_dir: Path) -> dict:
    out_dir = Path(out_dir)
    results = {"date": _dt.date.today().isoformat(), "machine": _machine(), "stages": []}
    with tempfile.TemporaryDirectory(prefix="jiuzhu-bench-") as tmp:
        for stage in stages:
            if stage not in STAGES:
                raise ValueError(f"unknown stage {stage!r}; known: {sorted(STAGES)}")
            for scale in scales:
                runs = [STAGES[stage](scale, 20241101 + i, Path(tmp)) for i in range(repeat)]
                walls = [r["wall_s"] for r in runs]
                median = statistics.median(walls)
                results["stages"].append({
                    "stage": stage, "scale": scale, "repeat": repeat,
                    "median_s": round(median, 2),
                    "spread_s": round(max(walls) - min(walls), 2),
                    "persons": runs[0]["persons"], "rows": runs[0]["rows"],
                    "persons_per_s": round(runs[0]["persons"] / median),
                    "rows_per_s": round(runs[0]["rows"] / median),
                    "peak_rss_mib": round(max(r["peak_rss_mib"] for r in runs)),
                    "inbox_mib": round(runs[0]["inbox_bytes"] / 2**20),
                })
    _write(results, out_dir)
    return results


def _machine() -> dict:
    mem = 0
    try:
        with open("/proc/meminfo") as f:
            mem = int(f.readline().split()[1]) // 1024
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "memory_mib": mem, "python": platform.python_version(),
            "platform": platform.platform()}


def _write(results: dict, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    key = "-".join(sorted({s["scale"] for s in results["stages"]}))
    (out_dir / f"benchmarks-{key}.json").write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n")
    lines = [
        f"## Run of {results['date']} ({results['machine']['cpus']} cores, "
        f"{results['machine']['memory_mib']:,} MiB, Python {results['machine']['python']})",
        "",
        "| stage | scale | runs | median s | spread s | persons/s | rows/s | peak MiB | inbox MiB |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for s in results["stages"]:
        lines.append(f"| {s['stage']} | {s['scale']} | {s['repeat']} | {s['median_s']} | {s['spread_s']} | "
                     f"{s['persons_per_s']:,} | {s['rows_per_s']:,} | {s['peak_rss_mib']:,} | {s['inbox_mib']:,} |")
    section = "\n".join(lines) + "\n"
    path = out_dir / "benchmarks.md"
    header = "# Benchmarks\n\nWritten by `jiuzhu bench` (`make bench`); each stage runs in its own process.\n\n"
    existing = path.read_text("utf-8") if path.exists() else header
    path.write_text(existing.rstrip("\n") + "\n\n" + section, "utf-8")
