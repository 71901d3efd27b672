"""数据交换 → 共享库 (EX-4, issue #12 item 5): the data engineer sees every sharing agreement with its
columns and masking, and the extracts made, an altered one flagged."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa

from exchange import sharing
from jiuzhu import lake
from jiuzhu.business import db
from tests.business.conftest import FakeClock
from tests.ui.staffkit import login, texts


def test_the_exchange_page_lists_agreements_and_extracts(staff, monkeypatch, tmp_path):
    home = tmp_path / "home"
    monkeypatch.setenv("JIUZHU_HOME", str(home))
    monkeypatch.setenv("JIUZHU_ALLOW_DEMO_KEY", "1")
    root = tmp_path / "lake"
    lake.write(lake.table_path(root, "gold", "monitoring", "low_income_population"), pa.table({
        "period": ["2026-10"], "person_key": pa.array([7], pa.int64()), "category": ["dibao"],
        "county_code": ["510104"], "region_code": ["510104017000"], "sex": ["女"], "age_years": pa.array([44], pa.int64()),
        "disability_grade": pa.array([None], pa.int64())}))
    with db.session_factory(db.make_engine(staff.url))() as s:
        made = sharing.extract(sharing.get("tongji_dishouru"), root, sharing.outbox_root(home), s,
                               clock=FakeClock(datetime(2026, 11, 22, 19, 0, tzinfo=UTC)))
    at = login("shuju01")
    at.switch_page("views/exchange.py").run()
    assert not at.exception, at.exception
    agreements = next(df.value for df in at.dataframe if "字段(脱敏方式)" in df.value.columns)
    assert set(agreements["协议"]) == {a.code for a in sharing.load()}
    row = agreements[agreements["协议"] == "zhujian_gongzufang"].iloc[0]
    assert "person_id(明文)" in row["字段(脱敏方式)"] and "person_name(姓名部分隐藏)" in row["字段(脱敏方式)"]
    extracts = next(df.value for df in at.dataframe if "校验" in df.value.columns)
    assert extracts[["协议", "行数", "校验"]].values.tolist() == [["tongji_dishouru", 1, "完整"]]
    made.path.write_bytes(b"tampered")
    at.run()
    assert any("与其清单不符" in e for e in texts(at.error))


def test_the_exchange_page_lists_api_clients_without_tokens_and_sync_packages(staff, monkeypatch, tmp_path):
    from exchange import clients, sync
    from verification import signing

    home = tmp_path / "home"
    monkeypatch.setenv("JIUZHU_HOME", str(home))
    monkeypatch.setenv("JIUZHU_ALLOW_DEMO_KEY", "1")
    with db.session_factory(db.make_engine(staff.url))() as s:
        client, token = clients.create_client(s, unit_name="成都市住建局(测试)", region_code="510100000000",
                                              scopes=["sharing:read"], unit_code="cd_zhujian")
    province = tmp_path / "province"
    lake.write(lake.table_path(province, "silver", "persons"), pa.table({
        "person_key": pa.array([1, 2], pa.int64()), "region_code": ["510104017000", "510105001000"]}))
    sync.export(province, "510104", home / "sync", signer=signing.load_signer())
    at = login("shuju01")
    at.switch_page("views/exchange.py").run()
    assert not at.exception, at.exception
    listed = next(df.value for df in at.dataframe if "客户端编号" in df.value.columns)
    row = listed[listed["客户端编号"] == client.client_id].iloc[0]
    assert row["权限"] == "获取共享数据" and row["状态"] == "启用"
    assert token.split(".")[1] not in listed.to_string()
    packages = next(df.value for df in at.dataframe if "同步包" in df.value.columns)
    assert packages[["表", "新增行"]].values.tolist() == [[1, 1]] and "锦江区" in packages["节点"].iloc[0]
