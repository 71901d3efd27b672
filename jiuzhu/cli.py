"""The ``jiuzhu`` command line."""

from __future__ import annotations

import json
import os
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


@main.group("exchange")
def exchange_group() -> None:
    """Data exchange with the sharing departments."""


@exchange_group.command("status")
@click.option("--today", type=click.DateTime(formats=["%Y-%m-%d"]), default=None, help="Judge freshness as of this day.")
@click.option("--json", "as_json", is_flag=True)
def exchange_status(today, as_json: bool) -> None:
    """Per department: the last batch, its receipt summary, freshness and quality."""
    from exchange import status as status_  # noqa: PLC0415
    from jiuzhu import settings  # noqa: PLC0415

    rows = status_.department_status(settings.load().lake, today.date() if today else None)
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    click.echo("共享单位   最近批次            状态      实收    入库   隔离  隔离率   迟报 重复报送  新鲜度     质量")
    for r in rows:
        click.echo(f"{r['name']:<8} {str(r['last_batch']):<18} {str(r['last_status']):<8} {r['last_delivered']:>6} "
                   f"{r['last_accepted']:>6} {r['last_rejected']:>5} {r['rejected_share']:>6.2%} {r['late_batches']:>5} "
                   f"{r['replays']:>6}  {r['freshness']:<8} {r['quality']}")


@exchange_group.command("dictionary")
@click.option("--out", type=click.Path(path_type=Path), default=Path("docs/data-dictionary.md"), show_default=True)
def exchange_dictionary(out: Path) -> None:
    """Write the data dictionary generated from the contracts."""
    from schemas import dictionary  # noqa: PLC0415

    out.write_text(dictionary.markdown(), "utf-8")
    click.echo(f"数据字典已写入 {out}")


@exchange_group.command("run")
@click.option("--department", default=None, help="Only this department (slug).")
def exchange_run(department: str | None) -> None:
    """Ingest and conform every pending batch in the inbox (what the Dagster assets do, without Dagster)."""
    from exchange import run as run_  # noqa: PLC0415
    from exchange import silver  # noqa: PLC0415
    from jiuzhu import settings  # noqa: PLC0415

    cfg = settings.load()
    depts = [department] if department else None
    reports = {d: run_.run_department(cfg.inbox, cfg.lake, cfg.home / "receipts", d)
               for d in (depts or sorted(run_.contracts_departments()))}
    silver.rebuild_households(cfg.lake)
    silver.rebuild_income_monthly(cfg.lake)
    for dept, rep in reports.items():
        click.echo(f"{dept}: {len(rep.outcomes)} 批, 实收 {rep.delivered}, 标准化 {rep.conformed_rows}, 系统性错误 {len(rep.systemic)}")
        for s in rep.systemic:
            click.echo(f"  ! {s['folder']}: {s['code']} {s['message']}")


@main.command("evaluate")
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Write the report (docs/evaluation.md).")
@click.option("--month", default=None, help="Month to evaluate (YYYY-MM); default the latest.")
def evaluate_cmd(out: Path | None, month: str | None) -> None:
    """Score the assessment and the detection list against the synthetic province's ground truth."""
    from jiuzhu import evaluation, settings  # noqa: PLC0415

    cfg = settings.load()
    result = evaluation.evaluate(cfg.province_dir, cfg.warehouse, month)
    click.echo(json.dumps(result, ensure_ascii=False, indent=2))
    if out:
        out.write_text(evaluation.markdown(result, cfg.scale), "utf-8")


@main.command("bench")
@click.option("--scale", "scales", multiple=True, default=["small"], show_default=True)
@click.option("--stages", default="generate", show_default=True)
@click.option("--repeat", type=int, default=1, show_default=True)
@click.option("--out", type=click.Path(path_type=Path), default=Path("docs"), show_default=True)
@click.option("--workdir", type=click.Path(path_type=Path), default=None,
              help="keep generated provinces and lakes here and reuse them in later runs")
def bench(scales: tuple[str, ...], stages: str, repeat: int, out: Path, workdir: Path | None) -> None:
    """Measure stages (median, spread, rows per second, peak memory) and write docs/benchmarks.md."""
    from jiuzhu import bench as bench_  # noqa: PLC0415

    results = bench_.run(list(scales), stages.split(","), repeat, out, workdir)
    click.echo(json.dumps(results, ensure_ascii=False, indent=2))


# --- business database: audit trail and accounts ----------------------------------------------------

class _business_session:  # lower case: used like a function, ``with _business_session() as s``
    """A session on the business database (``JIUZHU_BUSINESS_DB_URL`` or the SQLite default),
    migrated to the latest schema first; the engine is closed on exit."""

    def __enter__(self):
        from jiuzhu.business import db  # noqa: PLC0415

        url = db.default_url()
        db.upgrade(url)
        self._engine = db.make_engine(url)
        self._session = db.session_factory(self._engine)()
        return self._session

    def __exit__(self, *exc_info) -> None:
        self._session.close()
        self._engine.dispose()


def _default_anchor() -> Path:
    from jiuzhu import settings  # noqa: PLC0415

    return settings.load().home / "audit_head.json"


@main.group("audit")
def audit_group() -> None:
    """审计日志:校验哈希链、锚定链头、导出。"""


@audit_group.command("verify")
@click.option("--anchor", type=click.Path(path_type=Path), default=None,
              help="外部锚定的链头文件(默认 $JIUZHU_HOME/audit_head.json)。")
def audit_verify(anchor: Path | None) -> None:
    """Verify the hash chain of the audit trail; exit 1 at the first broken entry."""
    from jiuzhu import audit  # noqa: PLC0415

    anchor_path = anchor or _default_anchor()
    if anchor is not None and not anchor.exists():
        click.echo(f"找不到锚定文件:{anchor}")
        sys.exit(2)
    with _business_session() as session:
        result = audit.verify(session, anchor_path if anchor_path.exists() else None)
    if not result.ok:
        click.echo(f"审计链被破坏:第{result.first_broken_seq}条记录。{result.problem_zh}")
        sys.exit(1)
    click.echo(f"审计链完整:共{result.count}条记录")
    if not anchor_path.exists():
        click.echo(f"提示:未找到外部锚定的链头({anchor_path}),无法发现尾部被截断;请定期运行 jiuzhu audit anchor")


@audit_group.command("anchor")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="链头写入的文件(默认 $JIUZHU_HOME/audit_head.json)。")
def audit_anchor(out: Path | None) -> None:
    """Write the current chain head outside the table, as the reference for truncation checks."""
    from jiuzhu import audit  # noqa: PLC0415

    path = out or _default_anchor()
    with _business_session() as session:
        anchored = audit.anchor_head(session, path)
    click.echo(f"已锚定链头:第{anchored['seq']}条 {anchored['entry_hash']} -> {path}")


@audit_group.command("export")
@click.option("--out", type=click.Path(path_type=Path), required=True)
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default="csv", show_default=True)
@click.option("--user", "username", required=True, help="审计管理员账户(导出前验证密码并记入审计日志)。")
@click.option("--purpose", default="审计日志导出", show_default=True, help="导出事由。")
def audit_export(out: Path, fmt: str, username: str, purpose: str) -> None:
    """Export the audit trail (audit administrator only): CSV with BOM or JSON Lines."""
    from jiuzhu import access, audit, auth  # noqa: PLC0415

    password = click.prompt("密码", hide_input=True)
    with _business_session() as session:
        result = auth.login(session, username, password)
        if not result.ok:
            click.echo(result.message_zh)
            sys.exit(1)
        if result.must_change_password:
            click.echo(f"{result.message_zh}:请先运行 jiuzhu users passwd {username}")
            sys.exit(1)
        user = auth.find_user(session, username)
        try:
            access.authorize_and_audit(session, user, "export_audit", user.jurisdiction_code, purpose=purpose)
        except access.AccessDenied as exc:
            click.echo(f"拒绝导出:{exc.message_zh}")
            sys.exit(1)
        except audit.AuditUnavailable as exc:
            click.echo(exc.message_zh)
            sys.exit(1)
        count = audit.export(session, out, fmt)
    click.echo(f"已导出审计日志{count}条 -> {out}")


@main.group("casework")
def casework_group() -> None:
    """救助业务:事项库与知识库初始数据、办理时限与电子监察。"""


@casework_group.command("seed")
def casework_seed() -> None:
    """Publish the province's catalogue of aid items and the policy documents' summaries (once)."""
    from assistance import catalogue, knowledge  # noqa: PLC0415

    with _business_session() as session:
        items = catalogue.seed(session)
        documents = knowledge.seed_documents(session)
    click.echo(f"救助事项库:新发布{items}项;知识库:新增政策文件{documents}件")


@casework_group.command("sweep")
def casework_sweep() -> None:
    """Run the time limits (办结预警, escalation, publicity, verification results) and the case rules now."""
    from assistance import cases, casewatch  # noqa: PLC0415

    with _business_session() as session:
        result = cases.sweep(session)
        raised = casewatch.scan(session)
    click.echo(f"即将到期{len(result.warned)}个、新超期{len(result.overdue)}个、公示期满{len(result.publicity_closed)}个、"
               f"核对结论回填{len(result.verified)}个;新监察预警{len(raised)}条")


@casework_group.command("recover")
def casework_recover() -> None:
    """后补追缴: re-assess the paid months of computed benefits against the data delivered since."""
    from assistance import adjustments  # noqa: PLC0415
    from jiuzhu import settings  # noqa: PLC0415

    config = settings.load()
    with _business_session() as session:
        result = adjustments.scan(session, config.lake, work_dir=config.home / "ondemand")
    click.echo(f"核查待遇{result.benefits}项、已发放月份{result.months}个;新发现或更新后补追缴事项{len(result.raised)}条,"
               f"未变{result.unchanged}条")


@main.group("sync")
def sync_group() -> None:
    """纵向同步:向市县节点导出增量同步包、在节点导入同步包。"""


@sync_group.command("export")
@click.option("--region", required=True, help="节点的市(州)或县(市、区)区划代码")
@click.option("--out", "out_dir", type=click.Path(), help="同步包的输出目录(默认 $JIUZHU_HOME/sync)")
@click.option("--node-state", type=click.Path(exists=True), help="节点回报的 state.json(不给则为全量)")
def sync_export(region: str, out_dir: str, node_state: str | None) -> None:
    """Export the region's incremental package from this (province) lake."""
    from pathlib import Path  # noqa: PLC0415

    from exchange import sync  # noqa: PLC0415
    from jiuzhu import settings  # noqa: PLC0415
    from verification import signing  # noqa: PLC0415

    acknowledged = json.loads(Path(node_state).read_text("utf-8"))["tables"] if node_state else None
    config = settings.load()
    package = sync.export(config.lake, region, Path(out_dir) if out_dir else config.home / "sync", signer=signing.load_signer(),
                          acknowledged=acknowledged)
    tables = package.manifest["tables"]
    click.echo(f"同步包 {package.folder}:{len(tables)}张表,新增{sum(t['inserts']['rows'] for t in tables.values())}行,"
               f"删除{sum(t['deletes']['rows'] for t in tables.values())}行")


@sync_group.command("apply")
@click.argument("package", type=click.Path(exists=True, file_okay=False))
@click.option("--node", "node_lake", required=True, type=click.Path(), help="接收节点的数据湖目录")
def sync_apply(package: str, node_lake: str) -> None:
    """Verify and apply a package on the receiving node (idempotent)."""
    from pathlib import Path  # noqa: PLC0415

    from exchange import sync  # noqa: PLC0415
    from verification import signing  # noqa: PLC0415

    try:
        result = sync.apply(Path(node_lake), Path(package), keys=signing.trusted_keys())
    except sync.SyncError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"已导入{len(result.applied)}张表,已是最新{len(result.skipped)}张;节点状态:{Path(node_lake) / sync.STATE}")


@main.group("api")
def api_group() -> None:
    """数据交换接口:登记调用单位、启动接口服务。"""


@api_group.command("client-add")
@click.option("--unit", "unit_name", required=True, help="调用单位名称")
@click.option("--region", "region_code", required=True, help="单位的管辖区划代码")
@click.option("--scope", "scopes", multiple=True, required=True, help="权限范围(可多次):batches:write 等")
@click.option("--department", help="报送数据的共享单位代码(如 renshe)")
@click.option("--unit-code", help="共享库发件箱的单位代码(如 cd_zhujian)")
def api_client_add(unit_name, region_code, scopes, department, unit_code) -> None:
    """Register a unit's client; its token is printed once (only its SHA-256 is kept)."""
    from exchange import clients  # noqa: PLC0415

    with _business_session() as session:
        client, token = clients.create_client(session, unit_name=unit_name, region_code=region_code,
                                                   scopes=list(scopes), department=department, unit_code=unit_code)
    click.echo(f"已登记 {unit_name}(client_id {client.client_id},权限:{client.scopes})")
    click.echo(f"访问令牌(只显示这一次):{token}")


@api_group.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8600, show_default=True, type=int)
def api_serve(host: str, port: int) -> None:
    """Serve the exchange API (uvicorn)."""
    import uvicorn  # noqa: PLC0415

    uvicorn.run("api.exchange_api:app", host=host, port=port, log_level="warning")


@main.group("users")
def users_group() -> None:
    """用户账户:演示账户、修改密码。"""


@users_group.command("seed-demo")
def users_seed_demo() -> None:
    """Create one demo account per role; initial passwords are printed once and must be changed."""
    from jiuzhu import access, auth  # noqa: PLC0415

    with _business_session() as session:
        created = auth.seed_demo_users(session)
    if not created:
        click.echo("演示账户均已存在,未创建新账户")
        return
    click.echo("已创建演示账户。初始密码只显示这一次,首次登录须修改:")
    for user in created:
        click.echo(f"  {user.username:<10} {access.ROLE_NAMES_ZH[user.role]:<8} {user.jurisdiction_code}  "
                   f"{user.initial_password}")


@users_group.command("passwd")
@click.argument("username")
def users_passwd(username: str) -> None:
    """Change a password (the forced change of the initial password included)."""
    from jiuzhu import auth  # noqa: PLC0415

    old = click.prompt("当前密码", hide_input=True)
    new = click.prompt("新密码", hide_input=True, confirmation_prompt="再次输入新密码")
    with _business_session() as session:
        try:
            auth.change_password(session, username, old, new)
        except (auth.AccountError, auth.WeakPassword) as exc:
            click.echo(exc.message_zh)
            sys.exit(1)
    click.echo("密码已修改")


# --- verification: the household report --------------------------------------------------------

def _signed_in(session, username: str, prompt: str):
    """The account after a password check (refused, in Chinese, when locked, wrong or unchanged)."""
    from jiuzhu import auth  # noqa: PLC0415

    password = click.prompt(prompt, hide_input=True)
    result = auth.login(session, username, password)
    if not result.ok:
        click.echo(f"{username}:{result.message_zh}")
        sys.exit(1)
    if result.must_change_password:
        click.echo(f"{result.message_zh}:请先运行 jiuzhu users passwd {username}")
        sys.exit(1)
    return auth.find_user(session, username)


@main.command("verify")
@click.option("--member", "members", multiple=True, required=True,
              help="成员身份证号,可带与户主关系代码:ID[:relation],第一位为申请人(默认 02 户主)。")
@click.option("--item", "aid_item", default="dibao", show_default=True, help="救助事项(dibao、tekun、margin …)。")
@click.option("--as-of", "as_of", default=None, help="核对时点:YYYY-MM-DD(当日24时,北京时间)或日期时间;默认现在。")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="报告 PDF 的保存路径。")
@click.option("--user", "username", required=True, help="核对员账户(验证密码)。")
@click.option("--reviewer", required=True, help="复核员账户:须为另一名核对员(验证密码)。")
@click.option("--unit", "commissioning_unit", default="命令行委托", show_default=True, help="委托单位。")
@click.option("--authorisation", "authorisation_ref", required=True, help="核对授权书编号。")
@click.option("--purpose", default="家庭经济状况核对", show_default=True, help="委托事由。")
@click.option("--region", default=None, help="申请地区划代码(默认取申请人户籍地)。")
def verify_cmd(members, aid_item, as_of, out, username, reviewer, commissioning_unit, authorisation_ref, purpose,
               region) -> None:
    """Verify a household and write the signed report (居民家庭经济状况核对报告)."""
    from jiuzhu import access, audit, settings  # noqa: PLC0415
    from verification import requests as vr  # noqa: PLC0415
    from verification import service, signing  # noqa: PLC0415

    cfg = settings.load()
    with _business_session() as session:
        officer = _signed_in(session, username, f"{username} 的密码")
        second = _signed_in(session, reviewer, f"复核员 {reviewer} 的密码")
        try:
            done = service.verify_household(
                session, officer, second, cfg.lake, members=service.parse_members(list(members)),
                aid_item=aid_item, commissioning_unit=commissioning_unit, authorisation_ref=authorisation_ref,
                purpose=purpose, as_of=service.parse_as_of(as_of), region_code=region)
        except vr.RequestError as exc:
            click.echo(f"核对未完成:{exc.message}")
            sys.exit(1)
        except access.AccessDenied as exc:
            click.echo(f"拒绝核对:{exc.message_zh}")
            sys.exit(1)
        except (audit.AuditUnavailable, signing.SigningKeyMissing) as exc:
            click.echo(exc.message_zh)
            sys.exit(1)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(done.pdf)
    click.echo(f"核对申请 {done.request_no}:{done.assessment}")
    click.echo(f"报告 {done.report_no} -> {out}")
    click.echo(f"文档SM3:{done.content_sm3}")


@main.group("report")
def report_group() -> None:
    """核对报告:核验电子签名、重新生成、签名密钥。"""


@report_group.command("verify")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--public-key", "public_keys", multiple=True, type=click.Path(exists=True, path_type=Path),
              help="受信任的出具机构公钥(PEM),可多次指定。")
def report_verify(files: tuple[Path, ...], public_keys: tuple[Path, ...]) -> None:
    """Check each report: untouched since it was signed, by a trusted key, and as registered."""
    from jiuzhu.business import db  # noqa: PLC0415
    from verification import signing  # noqa: PLC0415

    keys = signing.trusted_keys(list(public_keys))
    failed = False
    for path in files:
        result = signing.verify_pdf(path.read_bytes(), keys)
        line = f"{path}:{'通过' if result.ok else '不通过'}。{result.message_zh}"
        url = db.default_url()
        if result.ok and (not url.startswith("sqlite:///") or Path(url.removeprefix("sqlite:///")).exists()):
            from verification import requests as vr  # noqa: PLC0415

            with _business_session() as session:
                record = vr.registered(session, result.report_no)
            if record is None:
                line += "(本平台未登记该报告编号)"
            elif record.file_sm3 != result.file_sm3:
                result = signing.Verification(False, "与登记的报告文件摘要不一致", result.report_no)
                line = f"{path}:不通过。与登记的报告文件摘要不一致:可能被替换"
            else:
                line += f"(与登记一致,出具于 {record.issued_at.isoformat()})"
        failed |= not result.ok
        click.echo(line)
    sys.exit(1 if failed else 0)


@report_group.command("keygen")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="密钥保存目录。")
def report_keygen(out: Path) -> None:
    """Make a signing key pair for a verification centre (the private key stays on the server)."""
    from verification import signing  # noqa: PLC0415

    private, public, kid = signing.generate_key(out)
    click.echo(f"私钥:{private}(设置 {signing.KEY_ENV} 指向它,勿外传)")
    click.echo(f"公钥:{public}(交给核验报告的单位)  密钥编号 {kid}")


# --- monitoring: the risk model ------------------------------------------------------------------

@main.group("model")
def model_group() -> None:
    """低收入人口动态监测风险模型:训练、评估、评分。"""


def _write_model_report(meta: dict, out: Path) -> None:
    from models import training  # noqa: PLC0415

    out.mkdir(parents=True, exist_ok=True)
    (out / "risk-model.md").write_text(training.model_card(meta), "utf-8")
    summary = {k: v for k, v in meta.items() if k != "feature_profile"}
    (out / "risk-model.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n", "utf-8")


@model_group.command("train")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Write the model report here (docs/models).")
def model_train(seed: int, out: Path | None) -> None:
    """Train on the gold features and the province's ground truth; register the model."""
    from jiuzhu import settings  # noqa: PLC0415
    from models import risk, training  # noqa: PLC0415

    cfg = settings.load()
    trained, meta = training.train_and_evaluate(cfg.lake, cfg.province_dir, seed=seed)
    folder = risk.save(cfg.home, trained, training.model_card(meta))
    click.echo(f"模型已登记:{folder}")
    click.echo(training.comparison_markdown(trained.metadata))
    click.echo(training.verdict(trained.metadata))
    if out:
        _write_model_report(trained.metadata, out)


@model_group.command("evaluate")
@click.option("--version", default=None, help="Registry version (default: the current model).")
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Write the model report here (docs/models).")
def model_evaluate(version: str | None, out: Path | None) -> None:
    """Judge a registered model again on its held-out months."""
    from jiuzhu import settings  # noqa: PLC0415
    from models import risk, training  # noqa: PLC0415

    cfg = settings.load()
    trained = risk.load(cfg.home, version)
    meta = training.reevaluate(trained, cfg.lake, cfg.province_dir)
    click.echo(training.comparison_markdown(meta))
    click.echo(training.verdict(meta))
    if out:
        _write_model_report(meta, out)


@model_group.command("score")
@click.option("--period", default=None, help="Month to score (YYYY-MM); default the latest in the features mart.")
@click.option("--push/--no-push", default=False, show_default=True, help="Push the warnings to the townships' queues.")
def model_score(period: str | None, push: bool) -> None:
    """Score a month's monitored households (gold monitoring/risk_scores); optionally push warnings."""
    from jiuzhu import settings  # noqa: PLC0415
    from models import scoring, warning_queue  # noqa: PLC0415

    cfg = settings.load()
    period = period or scoring.latest_period(cfg.lake)
    if period is None:
        raise click.ClickException("没有监测指标数据(gold/monitoring/monitoring_features),请先运行 marts 作业")
    result = scoring.score_period(cfg.lake, cfg.home, period)
    click.echo(f"{period}:评分{result.households:,}户({result.persons:,}人),候选预警{result.candidates:,}户,"
               f"用时{result.seconds:.1f}秒,模型版本{result.model_version}")
    if result.drifted:
        click.echo("特征分布漂移(PSI>0.25):" + "、".join(f"{k}={v}" for k, v in result.drifted.items()))
    if push:
        with _business_session() as session:
            pushed = warning_queue.push(session, cfg.lake, period)
        click.echo(f"已推送{pushed.pushed:,}条预警至{pushed.townships:,}个乡镇(30天内已推送且未升级的{pushed.suppressed:,}户未重复推送)")


# --- operations: integrity of the lake's data files ----------------------------------------------------

@main.group("integrity")
def integrity_group() -> None:
    """数据文件完整性:校验值清单的登记与核查。"""


@integrity_group.command("seal")
def integrity_seal() -> None:
    """Record the checksums of the data files written since the last seal."""
    from jiuzhu import integrity, settings

    lake_root = settings.load().lake
    done = integrity.seal(lake_root)
    click.echo(f"已登记 {sum(done.values()):,} 个新数据文件的校验值({len(done)} 张表),清单位于 {integrity.manifest_root(lake_root)}")


@integrity_group.command("check")
@click.option("--json", "as_json", is_flag=True)
def integrity_check(as_json: bool) -> None:
    """Find altered, swapped, missing, extra or unsealed data files; exit 1 when any is found."""
    from dataclasses import asdict

    from jiuzhu import integrity, settings

    findings = integrity.check(settings.load().lake)
    if as_json:
        click.echo(json.dumps([asdict(f) for f in findings], ensure_ascii=False, indent=2))
    elif not findings:
        click.echo("数据文件完整性核查通过:所有文件与登记的校验值一致。")
    for f in findings if not as_json else []:
        click.echo(f"[{f.code}] {f.table}/{f.file}:{f.message_zh}")
    if any(f.code != "UNSEALED" for f in findings):
        raise SystemExit(1)


# --- operations: backups and restore drills --------------------------------------------------------------

def _backup_dir(explicit: str | None) -> str:
    from jiuzhu import settings

    return explicit or os.environ.get("JIUZHU_BACKUP_DIR") or str(settings.load().home / "backup")


@main.command("backup")
@click.option("--to", "dest", default=None,
              help="Backup location: a path or a URI such as s3://bucket/jiuzhu (default $JIUZHU_BACKUP_DIR, else $JIUZHU_HOME/backup).")
@click.option("--keep", type=int, default=7, show_default=True, help="Backups kept (older ones and unused objects removed).")
def backup_cmd(dest: str | None, keep: int) -> None:
    """A consistent backup of the lake, the business database, the audit head and the Dagster instance."""
    from jiuzhu import backup, settings
    from jiuzhu.business import db

    cfg = settings.load()
    target = _backup_dir(dest)
    result = backup.backup(cfg.lake, cfg.home, target, business_url=db.default_url(),
                           dagster_home=Path(os.environ["DAGSTER_HOME"]) if os.environ.get("DAGSTER_HOME") else None)
    dropped, removed = backup.prune(target, keep)
    click.echo(f"备份完成:{result.path}({result.tables} 张表,{result.files:,} 个文件,其中新增 {result.new_objects:,} 个、"
               f"{result.bytes_new / 2**20:,.1f} MiB);按保留 {keep} 份清理了 {dropped} 份旧备份、{removed} 个对象")


@main.command("restore")
@click.option("--from", "source", default=None, help="The backup location (default as for jiuzhu backup).")
@click.option("--stamp", default=None, help="Which backup (its folder name; default the newest).")
@click.option("--to", "target", type=click.Path(path_type=Path), required=True, help="An empty folder to restore into.")
@click.option("--verify/--no-verify", default=True, show_default=True)
def restore_cmd(source: str | None, stamp: str | None, target: Path, verify: bool) -> None:
    """Restore into an empty place and prove it equal to the backup (the restore drill)."""
    from jiuzhu import backup

    try:
        result = backup.restore(_backup_dir(source), target, stamp=stamp, verify=verify)
    except backup.BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"恢复{'并核验' if verify else ''}{'通过' if result.ok else '不通过'}:{result.tables} 张表;演练报告 {result.report}")
    for p in result.problems:
        click.echo(f"  ! {p}")
    if not result.ok:
        raise SystemExit(1)


@main.command("maintain")
@click.option("--retention-days", type=int, default=None, help="Vacuum retention (default: the reproducibility window, 400).")
@click.option("--zorder/--no-zorder", default=True, show_default=True)
def maintain_cmd(retention_days: int | None, zorder: bool) -> None:
    """Compact (Z-order on the look-up key) and vacuum every table, keeping the reproducibility window."""
    from jiuzhu import maintenance, settings

    results = maintenance.maintain(settings.load().lake, retention_days=retention_days or maintenance.REPRODUCIBILITY_DAYS,
                                   zorder=zorder)
    before, after = sum(r.files_before for r in results), sum(r.files_after for r in results)
    click.echo(f"维护完成:{len(results)} 张表,数据文件 {before:,} → {after:,},清理过期文件 {sum(r.vacuumed for r in results):,} 个;"
               "行数均未改变" if all(r.rows_after == r.rows_before for r in results) else "警告:有表的行数改变")


@main.command("health")
@click.option("--integrity/--no-integrity", "with_integrity", default=True, show_default=True,
              help="Also hash every data file (the full integrity check).")
def health_cmd(with_integrity: bool) -> None:
    """The platform's state for the on-call engineer: alerts, feeds, integrity, backups, audit chain."""
    import datetime as dt

    from exchange import status as exchange_status
    from jiuzhu import alerts, audit, backup, integrity, settings
    from jiuzhu.business import db

    cfg = settings.load()
    bad = False
    board = alerts.Alerts(cfg.home)
    open_alerts = board.open_alerts()
    click.echo(f"告警:{len(open_alerts)} 条未解除")
    for key, a in sorted(open_alerts.items()):
        click.echo(f"  [{alerts.SEVERITY_ZH.get(a['severity'], a['severity'])}] {a['title_zh']}({a['at']},{key})")
        bad |= a["severity"] == "critical"
    rows = exchange_status.department_status(cfg.lake) if (cfg.lake / "bronze").exists() else []
    late = [r for r in rows if r["freshness"].startswith("逾期")]
    click.echo(f"共享单位:{len(rows)} 个,逾期 {len(late)} 个" + ("" if not late else ":" + "、".join(
        f"{r['name']}({r['freshness']})" for r in late)))
    if with_integrity:
        findings = [f for f in integrity.check(cfg.lake) if f.code != "UNSEALED"] if cfg.lake.exists() else []
        click.echo("数据完整性:" + ("通过" if not findings else f"发现 {len(findings)} 个问题(jiuzhu integrity check 查看)"))
        bad |= bool(findings)
    found = backup.backups(_backup_dir(None))
    if found:
        made = dt.datetime.strptime(found[-1], "%Y%m%dT%H%M%S%fZ").replace(tzinfo=dt.UTC)
        hours = (dt.datetime.now(dt.UTC) - made).total_seconds() / 3600
        click.echo(f"最近备份:{found[-1]}({hours:.1f} 小时前,共 {len(found)} 份)")
        bad |= hours > 48
    else:
        click.echo("最近备份:无(jiuzhu backup)")
    url = db.default_url()
    if not url.startswith("sqlite:///") or Path(url.removeprefix("sqlite:///")).exists():
        engine = db.make_engine(url)
        try:
            with db.session_factory(engine)() as s:
                anchor = _default_anchor()
                result = audit.verify(s, anchor if anchor.exists() else None)
        finally:
            engine.dispose()
        click.echo(f"审计日志哈希链:{'通过' if result.ok else '不通过:' + result.problem_zh}(共 {result.count} 条)")
        bad |= not result.ok
    if bad:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
