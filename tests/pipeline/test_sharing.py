"""共享库 (EX-4): an agreement's extract holds exactly the agreed columns, masked as agreed, only the
agreed rows, with a manifest whose checksum matches, and an audit entry; a column the agreement does
not name is refused (and the refusal audited); a bad agreement file is refused naming what is wrong;
the Dagster job of an agreement writes the unit's outbox."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pyarrow as pa
import pytest
import yaml
from sqlalchemy import select

from exchange import sharing
from jiuzhu import ids, lake, masking
from jiuzhu.business import db
from jiuzhu.business.models import AuditLog
from tests.business.conftest import FakeClock


def _person(seq: int, region: str) -> str:
    body = f"{region}19700101{seq:03d}"
    return body + ids.check_char(body)


PEOPLE = [  # person_key, person_id, name, category, region (township), period
    (1, _person(1, "510104"), "张建国", "dibao", "510104017000", "2026-10"),
    (1, _person(1, "510104"), "张建国", "dibao", "510104017000", "2026-09"),
    (2, _person(2, "510105"), "欧阳秀英", "tekun", "510105001000", "2026-10"),
    (3, _person(3, "510105"), "李明", "monitoring", "510105001000", "2026-10"),  # not an agreed category
    (4, _person(4, "510802"), "王芳", "dibao", "510802001000", "2026-10"),  # 广元: outside 成都
]


@pytest.fixture
def setting(tmp_path, monkeypatch):
    monkeypatch.setenv("JIUZHU_ALLOW_DEMO_KEY", "1")
    root = tmp_path / "lake"
    lake.write(lake.table_path(root, "silver", "persons"), pa.table({
        "person_key": pa.array([p[0] for p in PEOPLE], pa.int64()), "person_id": [p[1] for p in PEOPLE],
        "person_name": [p[2] for p in PEOPLE]}))
    lake.write(lake.table_path(root, "gold", "monitoring", "low_income_population"), pa.table({
        "period": [p[5] for p in PEOPLE], "person_key": pa.array([p[0] for p in PEOPLE], pa.int64()),
        "household_no": [f"H{p[0]}" for p in PEOPLE], "category": [p[3] for p in PEOPLE],
        "region_code": [p[4] for p in PEOPLE], "county_code": [p[4][:6] for p in PEOPLE],
        "sex": ["男", "男", "女", "男", "女"], "age_years": pa.array([56, 56, 40, 30, 61], pa.int64()),
        "disability_grade": pa.array([None, None, 2, None, None], pa.int64())}))
    url = f"sqlite:///{tmp_path / 'business.sqlite'}"
    db.upgrade(url)
    sessions = db.session_factory(db.make_engine(url))
    return root, tmp_path / "outbox", sessions, FakeClock(datetime(2026, 11, 22, 19, 0, tzinfo=UTC))


def test_the_housing_bureau_gets_exactly_the_agreed_columns_rows_and_masking(setting):
    root, outbox, sessions, clock = setting
    agreement = sharing.get("zhujian_gongzufang")
    with sessions() as s:
        made = sharing.extract(agreement, root, outbox, s, clock=clock)
        entry = s.scalar(select(AuditLog).where(AuditLog.action == "sharing_extract"))
    shared = pl.read_csv(made.path, schema_overrides={"person_id": pl.String, "county_code": pl.String})
    assert shared.columns == ["person_id", "person_name", "category", "county_code", "period"]
    # 成都 only, the newest month only, the agreed categories only
    assert sorted(shared.rows()) == sorted([
        (PEOPLE[0][1], "张**", "dibao", "510104", "2026-10"), (PEOPLE[2][1], "欧阳**", "tekun", "510105", "2026-10")])
    manifest = json.loads((made.path.parent / "manifest.json").read_text("utf-8"))
    assert manifest["sha256"] == hashlib.sha256(made.path.read_bytes()).hexdigest() and manifest["rows"] == 2
    assert [c["masking"] for c in manifest["columns"]] == ["clear", "mask_name", "clear", "clear", "clear"]
    assert made.path.parent.parent.parent.name == "cd_zhujian"
    detail = json.loads(entry.detail)
    assert (entry.outcome, detail["agreement"], detail["rows"]) == ("success", "zhujian_gongzufang", 2)
    assert PEOPLE[0][1] not in entry.detail  # what was shared is recorded, not the IDs themselves
    listed = sharing.extracts(outbox)
    assert [(m["agreement"], m["intact"]) for m in listed] == [("zhujian_gongzufang", True)]
    made.path.write_bytes(made.path.read_bytes() + b"x")
    assert sharing.extracts(outbox)[0]["intact"] is False  # an altered extract shows


def test_the_statistics_bureau_gets_pseudonyms_and_no_identity(setting):
    root, outbox, sessions, clock = setting
    with sessions() as s:
        made = sharing.extract(sharing.get("tongji_dishouru"), root, outbox, s, clock=clock)
    shared = pl.read_parquet(made.path)
    assert shared.columns == ["person_key", "period", "category", "county_code", "sex", "age_years", "disability_grade"]
    assert shared.height == len(PEOPLE)  # the whole province, every month
    keys = dict(zip(shared["period"] + shared["county_code"], shared["person_key"], strict=True))
    assert keys["2026-10510104"] == keys["2026-09510104"] == masking.pseudonym("1")  # stable across months
    assert not {"person_id", "person_name", "household_no"} & set(shared.columns)


def test_a_column_the_agreement_does_not_name_is_refused_and_the_refusal_audited(setting):
    root, outbox, sessions, clock = setting
    with sessions() as s:
        with pytest.raises(sharing.SharingError) as err:
            sharing.extract(sharing.get("tongji_dishouru"), root, outbox, s, columns=["period", "person_id"],
                            clock=clock)
        denied = s.scalar(select(AuditLog).where(AuditLog.outcome == "denied"))
    assert err.value.code == "COLUMN_NOT_AGREED" and "person_id" in err.value.message
    assert json.loads(denied.detail)["refused_columns"] == ["person_id"]
    assert not outbox.exists() or not any(outbox.rglob("*.parquet"))


GOOD = yaml.safe_load((sharing.HERE / "zhujian_gongzufang.yaml").read_text("utf-8"))


@pytest.mark.parametrize(("change", "code", "words"), [
    ({"legal_basis": "协议"}, "AGREEMENT_CLEAR_ID", "person_id"),
    ({"columns": {"person_id": "blur"}}, "AGREEMENT_MASK", "blur"),
    ({"region_code": "510104017"}, "AGREEMENT_REGION", "510104017"),
    ({"format": "xlsx"}, "AGREEMENT_FORMAT", "format"),
    ({"purpose": ""}, "AGREEMENT_INCOMPLETE", "purpose"),
])
def test_a_bad_agreement_is_refused_naming_what_is_wrong(tmp_path: Path, change, code, words):
    (tmp_path / "a.yaml").write_text(yaml.safe_dump({**GOOD, **change}, allow_unicode=True), "utf-8")
    with pytest.raises(sharing.SharingError) as err:
        sharing.load(tmp_path)
    assert err.value.code == code and words in err.value.message and "a.yaml" in err.value.message


def test_two_agreements_with_one_code_are_refused(tmp_path: Path):
    for name in ("a.yaml", "b.yaml"):
        (tmp_path / name).write_text(yaml.safe_dump(GOOD, allow_unicode=True), "utf-8")
    with pytest.raises(sharing.SharingError, match="重复"):
        sharing.load(tmp_path)


def test_each_agreement_has_its_dagster_job_that_fills_the_units_outbox(setting, monkeypatch, tmp_path):
    import dagster as dg

    from pipelines.defs.foundation.resources import PlatformPaths
    from pipelines.defs.sharing import assets

    root, _, _, _ = setting
    monkeypatch.setenv("JIUZHU_HOME", str(tmp_path))
    monkeypatch.setenv("JIUZHU_LAKE", str(root))
    monkeypatch.setenv("JIUZHU_BUSINESS_DB_URL", f"sqlite:///{tmp_path / 'business.sqlite'}")
    assert {j.name for j in assets.JOBS} == {f"sharing_{a.code}" for a in sharing.load()}
    result = dg.materialize(assets.ASSETS, resources={"paths": PlatformPaths()})
    assert result.success
    made = {m["agreement"]: m for m in sharing.extracts(tmp_path / "outbox")}
    assert set(made) == {"zhujian_gongzufang", "tongji_dishouru"} and made["zhujian_gongzufang"]["rows"] == 2
