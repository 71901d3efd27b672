"""数据交换 on the tiny province's real lake: every department's status, quarantined rows by reason
without the raw row, and the way to the Dagster UI."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from deltalake import DeltaTable

from jiuzhu import departments
from tests.ui.staffkit import frame, login, texts

# the tiny province is ingested once per session (tiny_lake): on the worker of the tiny-lake group
# (pytest-xdist --dist loadgroup), which builds it anyway, not a second time on another worker
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("tiny_lake")]

ID_LIKE = re.compile(r"\d{17}[\dXx]|\d{15}")


@pytest.fixture
def engineer(staff, tiny_lake, monkeypatch):
    root, _ = tiny_lake
    monkeypatch.setenv("JIUZHU_LAKE", str(root / "lake"))
    at = login("shuju01")
    at.switch_page("views/exchange.py").run()
    assert not at.exception
    return at, root / "lake"


def test_data_engineer_sees_the_status_of_every_department(engineer):
    at, _ = engineer
    status = frame(at, "exchange_status")
    assert list(status["共享单位"]) == [d.short_name for d in departments.all_departments()]
    assert (status["最近批次"] != "—").all()
    assert set(status["时效"]) <= {"正常"} | {s for s in status["时效"] if s.startswith("逾期")}
    assert set(status["质量"]) <= {"正常", "需关注"}
    assert [b.proto.url for b in at.link_button] == ["http://127.0.0.1:3000"]


def test_rejected_rows_are_counted_by_reason_and_never_show_the_raw_row(engineer):
    at, lake_root = engineer
    at.selectbox(key="exchange_department").set_value("minzheng").run()
    quarantine = DeltaTable(str(lake_root / "quarantine" / "minzheng" / "rejected_rows"))
    expected = Counter(quarantine.to_pyarrow_table(columns=["_reason_code"]).column(0).to_pylist())

    reasons = frame(at, "exchange_reasons")
    assert dict(zip(reasons["原因代码"], reasons["拒收行数"], strict=True)) == dict(expected)
    assert reasons["原因说明"].str.len().gt(0).all()

    rows = frame(at, "exchange_rejected_rows")
    assert list(rows.columns) == ["批次", "数据期", "文件", "行号", "原因代码", "字段", "原因说明"]
    assert len(rows) == sum(expected.values())
    for df in at.dataframe:
        assert not [c for c in df.value.columns if "raw" in str(c).lower()]
        for value in df.value.to_numpy().ravel():
            assert not ID_LIKE.search(str(value)), value


def test_rejected_rows_can_be_narrowed_to_one_delivery_month(engineer):
    at, _ = engineer
    at.selectbox(key="exchange_department").set_value("minzheng").run()
    months = [m for m in at.selectbox(key="exchange_period_minzheng").options if m != "全部"]
    assert months
    at.selectbox(key="exchange_period_minzheng").set_value(months[0]).run()
    rows = frame(at, "exchange_rejected_rows")
    assert set(rows["数据期"]) == {months[0]}
    assert any("不在此显示" in c for c in texts(at.caption))


def test_the_relational_sources_show_their_connection_state_and_watermark(staff, tmp_path, monkeypatch):
    """EX-7 on 数据交换: the housing-fund centre's database, whether its connection is configured
    (never the URL) and the watermark of the last pull."""
    import json

    from jiuzhu import lake

    monkeypatch.setenv("JIUZHU_LAKE", str(tmp_path / "lake"))
    monkeypatch.delenv("JIUZHU_SOURCE_GONGJIJIN_URL", raising=False)
    at = login("shuju01")
    at.switch_page("views/exchange.py").run()
    assert not at.exception, at.exception
    row = frame(at, "exchange_relational").iloc[0]
    assert row["共享单位"] == departments.get("gongjijin").name and row["数据库类型"] == "PostgreSQL"
    assert row["连接配置"] == "未配置(JIUZHU_SOURCE_GONGJIJIN_URL)" and row["增量水位(源库变更时间)"] == "尚未抽取"

    state = lake.table_path(tmp_path / "lake", "bronze", "gongjijin", "_relational_watermark.json")
    state.parent.mkdir(parents=True)
    state.write_text(json.dumps({"since": "2026-11-30T09:15:00", "hashes_at_since": [],
                                 "pulled_at": "2026-11-30T10:00:00+00:00"}), "utf-8")
    monkeypatch.setenv("JIUZHU_SOURCE_GONGJIJIN_URL", "postgresql+psycopg://gjj:secret@db.internal/gjj")
    at.run()
    row = frame(at, "exchange_relational").iloc[0]
    assert row["连接配置"] == "已配置" and row["增量水位(源库变更时间)"] == "2026-11-30 09:15:00"
    assert row["最近抽取"] == "2026-11-30 18:00"  # Beijing time
    assert not any("secret" in str(v) for v in frame(at, "exchange_relational").to_numpy().ravel())
