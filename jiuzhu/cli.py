"""The ``jiuzhu`` command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from jiuzhu import ids as ids_
from jiuzhu import regions as regions_


@click.group()
def main() -> None:
    """社会救助综合服务平台 — Sichuan social assistance platform."""


@main.group("id")
def id_group() -> None:
    """Citizen identity numbers (GB 11643)."""


@id_group.command("check")
@click.argument("numbers", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per ID, for machines.")
def id_check(numbers: tuple[str, ...], as_json: bool) -> None:
    """Check each ID: valid or the exact reason it is not; normalised form, birth date, sex, region."""
    failed = False
    for raw in numbers:
        verdict = ids_.check(raw)
        failed |= not verdict["valid"]
        if as_json:
            click.echo(json.dumps(verdict, ensure_ascii=False))
            continue
        if verdict["valid"]:
            region = _region_name(verdict["region_code"])
            notes = f"  ({'; '.join(verdict['notes'])})" if verdict["notes"] else ""
            click.echo(f"{raw}\t有效\t{verdict['number']}\t出生 {verdict['birth_date']}\t"
                       f"{'男' if verdict['sex'] == 'M' else '女'}\t地址码 {verdict['region_code']} {region}{notes}")
        else:
            click.echo(f"{raw}\t无效\t{verdict['reason_code']}\t{verdict['reason']}")
    sys.exit(1 if failed else 0)


def _region_name(code6: str) -> str:
    tree = regions_.load()
    return tree.full_name(code6) if code6 in tree else ids_.region_name(code6)


@main.group("regions")
def regions_group() -> None:
    """Administrative divisions of Sichuan."""


@regions_group.command("show")
@click.argument("code")
def regions_show(code: str) -> None:
    """Show a region, its ancestors and how many children it has."""
    tree = regions_.load()
    try:
        region = tree.get(code)
    except regions_.UnknownRegion as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"{region.code}\t{tree.full_name(region.code)}\t{regions_.LEVEL_NAMES_ZH[region.level]}")
    click.echo(f"下级区划: {len(tree.children(region.code))} 个")


@main.command("generate")
@click.option("--scale", type=click.Choice(["tiny", "small", "medium", "province"]), default="tiny", show_default=True)
@click.option("--seed", type=int, default=20241101, show_default=True)
@click.option("--out", type=click.Path(path_type=Path), required=True)
@click.option("--months", type=int, default=24, show_default=True)
@click.option("--counties", default="", help="Only these county codes (comma-separated), at the scale's density.")
def generate(scale: str, seed: int, out: Path, months: int, counties: str) -> None:
    """Generate a synthetic province: deliveries under OUT/inbox, ground truth under OUT/truth."""
    from jiuzhu import synth  # noqa: PLC0415

    only = [c.strip() for c in counties.split(",") if c.strip()] or None
    summary = synth.generate(scale, seed, out, months=months, counties=only,
                             progress=lambda msg: click.echo(f"  {msg}", err=True))
    click.echo(json.dumps(summary, ensure_ascii=False, indent=2))


@main.command("status")
def status() -> None:
    """Print what has been built: lake tables, the synthetic province and its deliveries."""
    from jiuzhu import settings, status as status_  # noqa: PLC0415

    cfg = settings.load()
    click.echo(f"数据湖 lake: {cfg.lake}")
    for row in status_.lake_tables(cfg.lake):
        click.echo(f"  {row['table']:<40} v{row['version']:<4} {row['rows']:>12,} 行")
    summary_file = cfg.province_dir / "generation.json"
    if summary_file.exists():
        summary = json.loads(summary_file.read_text("utf-8"))
        click.echo(f"合成省份 province: {cfg.province_dir}")
        click.echo(f"  规模 {summary['scale']}  种子 {summary['seed']}  人口 {summary['persons']:,}  "
                   f"家庭 {summary['households']:,}  {summary['months']} 个月")
        click.echo("共享单位报送 deliveries (inbox):")
        for row in status_.inbox_summary(cfg.inbox):
            click.echo(f"  {row['name']:<8} {row['batches']:>3} 批  {row['records']:>11,} 条  "
                       f"迟报 {row['late']}  重复报送 {row['resent']}  最近 {row['last_period']}")
    else:
        click.echo(f"合成省份尚未生成: {cfg.province_dir}")


@main.command("bench")
@click.option("--scale", "scales", multiple=True, default=["small"], show_default=True)
@click.option("--stages", default="generate", show_default=True)
@click.option("--repeat", type=int, default=1, show_default=True)
@click.option("--out", type=click.Path(path_type=Path), default=Path("docs"), show_default=True)
def bench(scales: tuple[str, ...], stages: str, repeat: int, out: Path) -> None:
    """Measure stages (median, spread, rows per second, peak memory) and write docs/benchmarks.md."""
    from jiuzhu import bench as bench_  # noqa: PLC0415

    results = bench_.run(list(scales), stages.split(","), repeat, out)
    click.echo(json.dumps(results, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
