"""A department's feed late past its window raises an alert within one sensor interval, and its
recovery clears it (the tiny province's ledgers, the clock held by the test)."""

import datetime as dt
import shutil

import dagster as dg
import pytest

from exchange import batches as B
from exchange import status
from jiuzhu import alerts, departments, lake
from pipelines.defs.operations import sensors

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("tiny_lake")]


def test_a_late_feed_opens_an_alert_and_its_recovery_clears_it(tiny_lake, tmp_path, monkeypatch):
    root, _ = tiny_lake
    own = tmp_path / "lake"
    shutil.copytree(root / "lake" / "bronze", own / "bronze")
    monkeypatch.setenv("JIUZHU_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("JIUZHU_LAKE", str(own))
    monkeypatch.setenv(alerts.ENV, "log")
    ledger = lake.read(B.ledger_path(own, "renshe"))
    last = max(ledger.column("period").to_pylist())
    withheld = ledger.filter(ledger.column("period").to_numpy(zero_copy_only=False) != last)
    lake.write(B.ledger_path(own, "renshe"), withheld)  # 人社's last month never arrived
    # the day after the batch following the last one kept fell due (every other department is in time)
    agreed = departments.get("renshe").delivery.agreed_day
    late_day = status.next_due(max(withheld.column("period").to_pylist()), agreed) + dt.timedelta(days=1)
    monkeypatch.setattr(sensors, "today", lambda: late_day)
    sensors.freshness_sensor(dg.build_sensor_context())
    board = alerts.Alerts(tmp_path / "home", ["log"])
    assert set(board.open_alerts()) == {"freshness:renshe"}
    assert "逾期" in board.open_alerts()["freshness:renshe"]["detail_zh"]
    sensors.freshness_sensor(dg.build_sensor_context())  # still late: nothing new is sent
    lake.write(B.ledger_path(own, "renshe"), ledger)  # the batch arrives
    sensors.freshness_sensor(dg.build_sensor_context())
    assert board.open_alerts() == {}
    sent = (tmp_path / "home" / "alerts" / "alerts.jsonl").read_text("utf-8").splitlines()
    assert len(sent) == 2  # opened once, cleared once
