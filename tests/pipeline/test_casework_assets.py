"""The business-platform assets materialise: the sweep escalates an overdue step, the supervision
scan raises its alert once, the month's disbursement orders are generated for a monthly benefit."""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg
from sqlalchemy import select

from assistance import cases, catalogue, funds
from jiuzhu.business import db
from jiuzhu.business.models import Benefit, CaseAlert, CaseStep, DisbursementOrder
from tests.business import casekit
from tests.business.conftest import FakeClock


def test_the_casework_assets_sweep_scan_and_generate_the_month(tmp_path, monkeypatch):
    from pipelines.defs.casework import assets
    from pipelines.defs.foundation.resources import PlatformPaths

    url = f"sqlite:///{tmp_path / 'business.sqlite'}"
    for name, value in (("JIUZHU_BUSINESS_DB_URL", url), ("JIUZHU_HOME", str(tmp_path / "home")),
                        ("JIUZHU_ALLOW_DEMO_KEY", "1")):
        monkeypatch.setenv(name, value)
    db.upgrade(url)
    sessions = db.session_factory(db.make_engine(url))
    clock = FakeClock(datetime(2025, 3, 3, 2, 0, tzinfo=UTC))  # long ago: the approval step is overdue now
    with sessions() as s:
        catalogue.seed(s, clock=clock)
        office = casekit.staff(s, clock)
        urgent = cases.accept(s, office["cw"], item_code="temporary_urgent", region_code=office["township"],
                              members=casekit.family(), lake_root=None, clock=clock,
                              materials=casekit.materials("temporary_urgent", s, office["township"]))
        s.add(Benefit(case_id=urgent.id + 100, aid_item_code="dibao_urban", category="dibao",
                      holder_person_id=casekit.person_id(50), holder_name="赵", region_code=office["township"],
                      household_size=2, monthly_amount=600.0, start_period="2025-01", status="active",
                      created_at=clock(), updated_at=clock()))
        s.commit()
    paths = {"paths": PlatformPaths()}
    for _ in range(2):  # a second run raises and generates nothing new
        result = dg.materialize(assets.ASSETS, resources=paths)
        assert result.success
    with sessions() as s:
        step = s.scalar(select(CaseStep).where(CaseStep.case_id == urgent.id, CaseStep.status == "todo"))
        assert step.overdue_at is not None and step.escalated_to == office["township"][:6] + "000000"
        alerts = s.scalars(select(CaseAlert).where(CaseAlert.rule == "overdue_step")).all()
        assert len(alerts) == 1 and urgent.acceptance_no in alerts[0].message
        period = funds.period_of(datetime.now(UTC))
        orders = s.scalars(select(DisbursementOrder).where(DisbursementOrder.period == period)).all()
        assert [(o.amount, o.channel) for o in orders] == [(600.0, "card")]
    adjusted = next(e.materialization.metadata for e in result.get_asset_materialization_events()
                    if e.materialization.asset_key == assets.ADJUSTMENTS_KEY)
    assert "户籍" in adjusted["skipped"].value  # no lake here: nothing to re-assess, said so, not failed
    from deltalake import DeltaTable

    stats = DeltaTable(str(tmp_path / "home" / "lake" / "gold" / "statistics" / "benefit_statistics")).to_pyarrow_table()
    assert [(r["period"], r["ordered_yuan"], r["rule_kind"]) for r in stats.to_pylist()] == [(period, 600.0, "manual")]


def test_the_casework_commands_seed_once_and_sweep(tmp_path):
    from click.testing import CliRunner

    from jiuzhu import cli

    env = {"JIUZHU_BUSINESS_DB_URL": f"sqlite:///{tmp_path / 'b.sqlite'}", "JIUZHU_HOME": str(tmp_path / "home"),
           "JIUZHU_ALLOW_DEMO_KEY": "1"}
    first = CliRunner().invoke(cli.main, ["casework", "seed"], env=env)
    assert first.exit_code == 0, first.output
    assert "新发布9项" in first.output
    again = CliRunner().invoke(cli.main, ["casework", "seed"], env=env)
    assert "新发布0项" in again.output and "新增政策文件0件" in again.output
    swept = CliRunner().invoke(cli.main, ["casework", "sweep"], env=env)
    assert swept.exit_code == 0 and "新监察预警0条" in swept.output
