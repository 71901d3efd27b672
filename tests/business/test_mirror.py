"""The business database is mirrored into bronze incrementally by change time, without secrets."""

import json

from deltalake import DeltaTable
from sqlalchemy import update

from jiuzhu import auth
from jiuzhu.business import mirror
from jiuzhu.business.models import AssistanceCase, Benefit, DisbursementOrder


def _rows(lake_root, table):
    return DeltaTable(str(mirror.mirror_path(lake_root, table))).to_pyarrow_table().to_pylist()


def test_mirror_copies_changes_since_the_last_run_and_never_the_password_hash(engine, session, clock, tmp_path):
    lake_root = tmp_path / "lake"
    auth.create_user(session, "officer.a", "核对员甲", "verification_officer", "510104000000", "Abcdef12!", clock=clock)
    first = mirror.mirror(engine, lake_root, "users")
    assert first["rows"] == 1
    users = _rows(lake_root, "users")
    assert "password_hash" not in users[0] and users[0]["username"] == "officer.a"
    audit_first = mirror.mirror(engine, lake_root, "audit_log")
    assert audit_first["rows"] >= 1

    clock.advance(hours=1)
    auth.create_user(session, "officer.b", "核对员乙", "verification_officer", "510104000000", "Abcdef12!", clock=clock)
    second = mirror.mirror(engine, lake_root, "users")
    # only the new row and the one at the watermark (overlap is harmless: upsert by id)
    assert 1 <= second["rows"] <= 2
    assert sorted(u["username"] for u in _rows(lake_root, "users")) == ["officer.a", "officer.b"]
    again = mirror.mirror(engine, lake_root, "users")
    assert again["rows"] <= 1 and len(_rows(lake_root, "users")) == 2


def test_the_business_platform_is_mirrored_without_names_ids_or_accounts(engine, session, clock, tmp_path,
                                                                         monkeypatch):
    from assistance import cases, catalogue
    from tests.business import casekit

    monkeypatch.setenv("JIUZHU_ALLOW_DEMO_KEY", "1")
    catalogue.seed(session, clock=clock)
    office = casekit.staff(session, clock)
    case = cases.accept(session, office["cw"], item_code="temporary_urgent", region_code=office["township"],
                        members=casekit.family(), lake_root=None, clock=clock,
                        materials=casekit.materials("temporary_urgent", session, office["township"]))
    cases.complete(session, office["town_ap"], case.acceptance_no, "pass", note="先行救助", amount=900.0, clock=clock)
    # a computed benefit's facts and breakdowns name the members (issue #15): they stay in the database
    named = json.dumps({"members": [{"person_id": m.person_id, "birth_date": "1980-01-01"} for m in casekit.family()]})
    session.execute(update(AssistanceCase).values(benefit_facts_json=named, proposed_breakdown_json=named))
    session.execute(update(Benefit).values(facts_json=named, breakdown_json=named, rule_kind="dibao"))
    session.execute(update(DisbursementOrder).values(breakdown_json=named))
    session.commit()
    lake_root = tmp_path / "lake"
    for table in ("assistance_cases", "benefits", "disbursement_orders"):
        assert mirror.mirror(engine, lake_root, table)["rows"] == 1
    (row,) = _rows(lake_root, "benefits")
    assert row["monthly_amount"] == 900.0 and row["category"] == "temporary"
    (order,) = _rows(lake_root, "disbursement_orders")
    assert order["amount"] == 900.0 and order["channel"] == "bank"
    text = repr([_rows(lake_root, t) for t in ("assistance_cases", "benefits", "disbursement_orders")])
    assert all(m.person_id not in text and m.name not in text for m in casekit.family())
    assert "account_no" not in order and "holder_name" not in row and "facts_json" not in row
    assert row["rule_kind"] == "dibao" and "breakdown_json" not in order
