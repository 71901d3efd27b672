"""The verification report: a signed Chinese PDF that a byte changed anywhere invalidates, the
same file again when regenerated after later deliveries, one report for a family registered in
two prefectures, refused and audited outside the officer's jurisdiction; and `jiuzhu verify`."""

import datetime as dt
import shutil
import subprocess
import time

import polars as pl
import pytest
from click.testing import CliRunner
from deltalake import DeltaTable
from sqlalchemy import select

from jiuzhu import access, auth, cli
from jiuzhu.business.models import AuditLog, VerificationReport
from verification import ondemand, serving, signing
from verification import requests as vr

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("tiny_lake")]


def _indexed_copy(lake_root, into):
    own = into / "lake"
    shutil.copytree(lake_root, own)
    serving.ServingIndex(ondemand.serving_index_path(own)).refresh(ondemand.indexed_tables(own))
    ondemand._INDEXES.clear()
    return own


@pytest.fixture(scope="module")
def lake(warehouse, tmp_path_factory):
    """An indexed copy of the tiny lake, read by the tests of this module (none writes to it)."""
    return _indexed_copy(warehouse[2], tmp_path_factory.mktemp("report-lake"))


@pytest.fixture
def own_lake(warehouse, tmp_path):
    """A private, indexed copy for a test that delivers later data: it touches no other test."""
    return _indexed_copy(warehouse[2], tmp_path)


@pytest.fixture(scope="module")
def persons(lake):
    return pl.from_arrow(DeltaTable(str(lake / "silver" / "persons")).to_pyarrow_table())


def _family(persons: pl.DataFrame, size: int = 3) -> list[vr.MemberInput]:
    alive = persons.filter(pl.col("alive"))
    sizes = alive.group_by("household_no").len().filter(pl.col("len") >= size)
    household = sizes.sort("household_no").get_column("household_no")[0]
    members = alive.filter(pl.col("household_no") == household).sort("relation")
    return [vr.MemberInput(p["person_id"], p["relation"]) for p in members.to_dicts()]


def _officers(session, clock, region: str, monkeypatch) -> dict:
    monkeypatch.setenv("JIUZHU_ALLOW_DEMO_KEY", "1")
    county = region[:6] + "000000"
    other = "510105000000" if not region.startswith("510105") else "510106000000"
    return {name: auth.create_user(session, name, name, access.VERIFICATION_OFFICER, where, "Abcdef12!",
                                   must_change_password=False, clock=clock)
            for name, where in (("officer.a", county), ("officer.b", county), ("officer.x", other),
                                ("officer.p", "510000000000"))}


def _reported(session, clock, users, lake, members, region, *, as_of, verifier="officer.a", reviewer="officer.b"):
    request = vr.submit(session, users[verifier], commissioning_unit="街道办事处", aid_item="dibao",
                        purpose="低保申请家庭经济状况核对", authorisation_ref="SQ-2026-0101", region_code=region,
                        members=members, clock=clock)
    vr.receive(session, users[verifier], request.request_no, clock=clock)
    vr.verify(session, users[verifier], request.request_no, lake, as_of=as_of, clock=clock)
    vr.review(session, users[reviewer], request.request_no, clock=clock)
    return vr.issue_report(session, users[verifier], request.request_no, lake, clock=clock)


def test_a_report_regenerated_after_later_deliveries_is_the_same_file(session, clock, own_lake, persons,
                                                                      monkeypatch):
    lake = own_lake
    members = _family(persons)
    region = persons.filter(pl.col("person_id") == members[0].person_id).row(0, named=True)["region_code"]
    users = _officers(session, clock, region, monkeypatch)
    record, pdf = _reported(session, clock, users, lake, members, region, as_of=dt.datetime.now(dt.UTC))
    assert record.content_sm3 and record.key_id == signing.load_signer().key_id
    time.sleep(0.01)
    # a later delivery: the public-security bureau reports every member deceased
    deaths = DeltaTable(str(lake / "silver" / "persons"))
    deaths.update(updates={"alive": "false"},
                  predicate=" OR ".join(f"person_id = '{m.person_id}'" for m in members))
    serving.ServingIndex(ondemand.serving_index_path(lake)).refresh(ondemand.indexed_tables(lake))
    ondemand._INDEXES.clear()
    again = vr.regenerate_report(session, users["officer.a"], record.report_no, lake, purpose="复查", clock=clock)
    assert again == pdf
    assert signing.verify_pdf(again, signing.trusted_keys()).ok
    # the later data is there: a report as of now would differ
    fresh = ondemand.assess(lake, [ondemand.Member(m.person_id, m.relation) for m in members])
    assert fresh.inputs["persons"].column("alive").to_pylist() == [False] * len(members)


@pytest.mark.parametrize("business_url", ["sqlite"], indirect=True)  # the lifecycle runs on both elsewhere
def test_a_byte_changed_anywhere_makes_the_report_fail_verification(session, clock, lake, persons, monkeypatch,
                                                                    tmp_path):
    members = _family(persons)
    region = persons.filter(pl.col("person_id") == members[0].person_id).row(0, named=True)["region_code"]
    users = _officers(session, clock, region, monkeypatch)
    _, pdf = _reported(session, clock, users, lake, members, region, as_of=dt.datetime.now(dt.UTC))
    keys = signing.trusted_keys()
    assert signing.verify_pdf(pdf, keys).ok
    for at in (0, 9, len(pdf) // 3, len(pdf) // 2, len(pdf) - 200, len(pdf) - 5):
        changed = bytearray(pdf)
        changed[at] ^= 0x01
        assert not signing.verify_pdf(bytes(changed), keys).ok, at
    assert not signing.verify_pdf(pdf[:-1], keys).ok
    assert not signing.verify_pdf(pdf[: pdf.rfind(signing.MARK)], keys).ok  # signature removed
    # a key that is not trusted is not accepted, even on an untouched file
    assert not signing.verify_pdf(pdf, {}).ok
    # the command line says the same, with an exit code for scripts
    good, bad = tmp_path / "good.pdf", tmp_path / "bad.pdf"
    good.write_bytes(pdf)
    bad.write_bytes(pdf[:100] + bytes([pdf[100] ^ 0x20]) + pdf[101:])
    runner = CliRunner()
    ok = runner.invoke(cli.main, ["report", "verify", str(good)])
    assert ok.exit_code == 0 and "通过" in ok.output
    failed = runner.invoke(cli.main, ["report", "verify", str(bad)])
    assert failed.exit_code == 1 and "不通过" in failed.output


@pytest.mark.parametrize("business_url", ["sqlite"], indirect=True)  # the lifecycle runs on both elsewhere
def test_the_pdf_is_a_chinese_document_with_embedded_fonts_and_every_category(session, clock, lake, persons,
                                                                               monkeypatch, tmp_path):
    if not shutil.which("pdftotext") or not shutil.which("pdffonts"):
        pytest.fail("poppler-utils (pdftotext, pdffonts) must be installed: .ci/run installs them")
    members = _family(persons)
    region = persons.filter(pl.col("person_id") == members[0].person_id).row(0, named=True)["region_code"]
    users = _officers(session, clock, region, monkeypatch)
    record, pdf = _reported(session, clock, users, lake, members, region, as_of=dt.datetime.now(dt.UTC))
    path = tmp_path / "r.pdf"
    path.write_bytes(pdf)
    fonts = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True).stdout
    embedded = [line for line in fonts.splitlines()[2:] if line.strip()]
    assert embedded and all(" yes yes " in line for line in embedded), fonts
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout
    squeezed = "".join(text.split())
    for heading in ("居民家庭经济状况核对报告", "家庭成员", "收入情况", "财产情况", "存款及金融资产", "不动产登记", "机动车登记",
                    "市场主体登记", "医疗费用结算", "残疾人证", "住房公积金", "核对结论", "数据来源", "数据日期",
                    record.report_no, "文档SM3"):
        assert heading in squeezed, heading
    for m in members:
        assert m.person_id in squeezed
    assert record.content_sm3 in squeezed  # the document hash is printed


@pytest.mark.parametrize("business_url", ["sqlite"], indirect=True)  # the lifecycle runs on both elsewhere
def test_a_family_registered_in_two_prefectures_gets_one_complete_report(session, clock, lake, persons,
                                                                         monkeypatch):
    heads = persons.filter(pl.col("alive") & (pl.col("relation") == "02"))
    a = heads.filter(pl.col("region_code").str.starts_with("5101")).sort("person_id").row(0, named=True)
    b = heads.filter(pl.col("region_code").str.starts_with("5134")).sort("person_id").row(0, named=True)
    users = _officers(session, clock, a["region_code"], monkeypatch)
    members = [vr.MemberInput(a["person_id"], "02"), vr.MemberInput(b["person_id"], "10")]
    record, pdf = _reported(session, clock, users, lake, members, a["region_code"], as_of=dt.datetime.now(dt.UTC))
    request = session.get(vr.VerificationRequest, record.request_id)
    content = vr.report.build_content(
        report_no=record.report_no, request=request, members=vr._members(session, request),
        assessment=ondemand.assess(lake, [ondemand.Member(m.person_id, m.relation) for m in members],
                                   versions=__import__("json").loads(record.table_versions_json)),
        issued_at=record.issued_at, issued_by=record.issued_by, as_of=request.as_of)
    assert vr.report.content_hash(content) == record.content_sm3
    assert [m["person_id"] for m in content["members"]] == [a["person_id"], b["person_id"]]
    assert {m["status"] for m in content["members"]} == {"在册"}
    assert content["totals"]["members"] == 2
    assert content["household_no"] == "+".join(sorted([a["household_no"], b["household_no"]]))


def test_an_officer_outside_the_jurisdiction_cannot_issue_or_regenerate_and_is_audited(session, clock, lake,
                                                                                       persons, monkeypatch):
    members = _family(persons)
    region = persons.filter(pl.col("person_id") == members[0].person_id).row(0, named=True)["region_code"]
    users = _officers(session, clock, region, monkeypatch)
    request = vr.submit(session, users["officer.a"], commissioning_unit="街道办", aid_item="dibao", purpose="核对",
                        authorisation_ref="SQ-9", region_code=region, members=members, clock=clock)
    vr.receive(session, users["officer.a"], request.request_no, clock=clock)
    vr.verify(session, users["officer.a"], request.request_no, lake, as_of=dt.datetime.now(dt.UTC), clock=clock)
    vr.review(session, users["officer.b"], request.request_no, clock=clock)
    with pytest.raises(access.AccessDenied):
        vr.issue_report(session, users["officer.x"], request.request_no, lake, clock=clock)
    record, _ = vr.issue_report(session, users["officer.a"], request.request_no, lake, clock=clock)
    with pytest.raises(access.AccessDenied):
        vr.regenerate_report(session, users["officer.x"], record.report_no, lake, purpose="查看", clock=clock)
    denied = session.scalars(select(AuditLog).where(AuditLog.actor == "officer.x")).all()
    assert [e.outcome for e in denied] == ["denied", "denied"]
    assert {e.action for e in denied} == {"review_verification", "view_household_report"}
    assert session.scalars(select(VerificationReport)).all() == [record]


def test_jiuzhu_verify_writes_a_signed_report_for_two_officers(session, clock, lake, persons, monkeypatch, tmp_path,
                                                               business_url):
    members = _family(persons)
    region = persons.filter(pl.col("person_id") == members[0].person_id).row(0, named=True)["region_code"]
    _officers(session, clock, region, monkeypatch)
    monkeypatch.setenv("JIUZHU_LAKE", str(lake))
    monkeypatch.setenv("JIUZHU_BUSINESS_DB_URL", business_url)
    out = tmp_path / "report.pdf"
    args = ["verify", "--user", "officer.a", "--reviewer", "officer.b", "--authorisation", "SQ-CLI-1",
            "--as-of", (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).date().isoformat(), "--out", str(out)]
    for m in members:
        args += ["--member", f"{m.person_id}:{m.relation}"]
    result = CliRunner().invoke(cli.main, args, input="Abcdef12!\nAbcdef12!\n")
    assert result.exit_code == 0, result.output
    assert "报告 BG" in result.output and out.exists()
    assert signing.verify_pdf(out.read_bytes(), signing.trusted_keys()).ok
    checked = CliRunner().invoke(cli.main, ["report", "verify", str(out)])
    assert checked.exit_code == 0 and "与登记一致" in checked.output
    # the same officer may not review their own verification
    same = CliRunner().invoke(cli.main, [*args[:4], "officer.a", *args[5:]], input="Abcdef12!\nAbcdef12!\n")
    assert same.exit_code == 1 and "另一名核对员" in same.output
