"""资金监管 after the order (assistance.payments): the deterministic finance sample, return and
correction, the 一卡通 and bank payment files, the import of the bank's result and the reconciliation
that flags every kind of mismatch — on SQLite and PostgreSQL, refused and audited outside the role
or jurisdiction."""

from __future__ import annotations

import csv
import datetime as _dt
import hashlib
import io
import json
import random

import pytest
from sqlalchemy import func, select

from assistance import funds, payments
from jiuzhu import access, auth, ids, masking, regions
from jiuzhu.business.models import (
    AssistanceCase,
    AuditLog,
    Benefit,
    DisbursementOrder,
    PaymentBatch,
    PaymentResult,
    ReconciliationIssue,
)

PASSWORD = "Jiuzhu#2026pay"
PERIOD = "2025-03"
JINJIANG, QINGYANG = "510104000000", "510105000000"
TOWNSHIP = regions.load().children(JINJIANG)[0].code
OTHER_TOWNSHIP = regions.load().children(JINJIANG)[1].code
QINGYANG_TOWNSHIP = regions.load().children(QINGYANG)[0].code
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超霞平刚桂英华玉兰"


@pytest.fixture(autouse=True)
def _pseudonym_key(monkeypatch):
    monkeypatch.setenv("JIUZHU_ALLOW_DEMO_KEY", "1")


@pytest.fixture
def paid_hook(monkeypatch):
    """The case flow's hook, recorded: the order numbers it was called with, in order."""
    calls: list[str] = []
    monkeypatch.setattr(payments, "_notify_paid",
                        lambda session, order, *, clock: calls.append(order.order_no))
    return calls


@pytest.fixture
def staff(session, clock):
    def make(username, role, where):
        return auth.create_user(session, username, username, role, where, PASSWORD,
                                must_change_password=False, clock=clock)

    return {"finance": make("caiwu01", access.FINANCE_OFFICER, JINJIANG),
            "approver": make("shenpi01", access.APPROVER, JINJIANG),
            "worker": make("jingban01", access.CASE_WORKER, TOWNSHIP),
            "outsider": make("caiwu09", access.FINANCE_OFFICER, QINGYANG)}


class Orders:
    """Benefits and their disbursement orders, built with the models and ``funds.create_order``."""

    def __init__(self, session, clock):
        self.session, self.clock = session, clock
        self.rng = random.Random(20250303)
        self.surnames = [s for s, _ in regions.surnames()[:40]]
        self.seq = 0

    def person(self, township: str) -> tuple[str, str]:
        self.seq += 1
        birth = _dt.date(1950, 1, 1) + _dt.timedelta(days=self.rng.randint(0, 20000))
        name = self.rng.choice(self.surnames) + "".join(self.rng.sample(GIVEN, self.rng.choice((1, 2))))
        return ids.make(township[:6], birth, self.seq % 1000), name

    def add(self, amount: float = 685.0, *, category: str = "dibao", township: str = TOWNSHIP,
            period: str = PERIOD, paid_before: tuple[str, ...] = ("2025-02",), status: str | None = None
            ) -> DisbursementOrder:
        person, name = self.person(township)
        now = self.clock()
        benefit = Benefit(case_id=10_000 + self.seq, aid_item_code=f"{category}_urban", category=category,
                          household_no=f"H{self.seq:06d}", holder_person_id=person, holder_name=name,
                          region_code=township, household_size=2, monthly_amount=amount,
                          start_period=min((*paid_before, period)), status="active", created_at=now,
                          updated_at=now)
        self.session.add(benefit)
        self.session.flush()
        for earlier in paid_before:
            funds.create_order(self.session, benefit, earlier, created_by="system:monthly",
                               clock=self.clock).status = "paid"
        order = funds.create_order(self.session, benefit, period, created_by="system:monthly",
                                   clock=self.clock)
        if status:
            order.status = status
        self.session.commit()
        return order


@pytest.fixture
def orders(session, clock):
    return Orders(session, clock)


def _reload(session, order_no: str) -> DisbursementOrder:
    session.expire_all()
    return session.scalars(select(DisbursementOrder).where(DisbursementOrder.order_no == order_no)).one()


def _rows(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("gb18030"), newline="")))


def _result_file(lines: list[tuple], encoding: str = "gb18030", header: bool = True) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    if header:
        writer.writerow(payments.RESULT_COLUMNS)
    for line in lines:
        writer.writerow(line)
    return out.getvalue().encode(encoding)


def _paid_line(order: DisbursementOrder, amount: float | None = None, person: str | None = None,
               status: str = "成功") -> tuple:
    paid = order.amount if amount is None else amount
    return order.order_no, person or order.payee_person_id, f"{paid:.2f}", "2025-03-10", status


def _issues(session, batch_no: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for issue in session.scalars(select(ReconciliationIssue).where(ReconciliationIssue.batch_no == batch_no)):
        found.setdefault(issue.kind, set()).add(issue.order_no)
    return found


# --- the finance check -----------------------------------------------------------------------------------


def test_the_sample_is_reproducible_and_draws_the_rate_the_large_and_the_first_orders(session, clock, staff,
                                                                                        orders):
    returning = [orders.add(600.0 + 5 * i) for i in range(20)]
    large = orders.add(3200.0)
    first = [orders.add(685.0, paid_before=()), orders.add(510.0, paid_before=(), township=OTHER_TOWNSHIP)]
    elsewhere = orders.add(700.0, township=QINGYANG_TOWNSHIP)
    next_month = orders.add(700.0, period="2025-04", paid_before=())
    pool = [*returning, large, *first]

    result = payments.select_for_check(session, staff["finance"], JINJIANG, PERIOD, rate=0.1, threshold=2000,
                                       clock=clock)

    # An auditor recomputes the draw from the documented rule: SM3(order number + month), smallest first.
    ranked = sorted(pool, key=lambda o: hashlib.new("sm3", f"{o.order_no}{PERIOD}".encode()).hexdigest())
    drawn = {o.order_no for o in ranked[:3]}  # 10 % of 23, rounded up
    assert result.considered == 23
    assert {n for n, why in result.spot_checked.items() if "random" in why} == drawn
    assert "threshold" in result.spot_checked[large.order_no]
    assert all("first" in result.spot_checked[o.order_no] for o in first)
    assert set(result.spot_checked) == drawn | {large.order_no} | {o.order_no for o in first}
    for order in pool:
        now = _reload(session, order.order_no)
        if order.order_no in result.spot_checked:
            assert (now.status, now.spot_check, now.checked_by) == ("pending_check", True, None)
        else:
            assert (now.status, now.spot_check, now.checked_by) == ("checked", False, payments.SAMPLE_ACTOR)
    for untouched in (_reload(session, elsewhere.order_no), _reload(session, next_month.order_no)):
        assert (untouched.status, untouched.spot_check) == ("pending_check", False)
    again = payments.select_for_check(session, staff["finance"], JINJIANG, PERIOD, rate=0.1, clock=clock)
    assert (again.considered, again.spot_checked, again.auto_checked) == (0, {}, [])


def test_one_pending_order_is_always_drawn_and_bad_sample_settings_are_refused(session, clock, staff, orders):
    only = orders.add(685.0)
    result = payments.select_for_check(session, staff["finance"], JINJIANG, PERIOD, rate=0.01, clock=clock)
    assert result.spot_checked == {only.order_no: ["random"]}
    for kwargs, code in (({"rate": 0}, "RATE_INVALID"), ({"rate": 1.5}, "RATE_INVALID"),
                         ({"threshold": -1.0}, "THRESHOLD_INVALID")):
        with pytest.raises(payments.PaymentError) as err:
            payments.select_for_check(session, staff["finance"], JINJIANG, PERIOD, clock=clock, **kwargs)
        assert err.value.code == code and "抽查" in err.value.message
    with pytest.raises(payments.PaymentError, match="YYYY-MM"):
        payments.select_for_check(session, staff["finance"], JINJIANG, "2025-3", clock=clock)


def test_a_spot_checked_order_is_returned_with_its_reason_corrected_by_the_approver_and_passed(
        session, clock, staff, orders):
    order = orders.add(685.0, paid_before=())
    payments.select_for_check(session, staff["finance"], JINJIANG, PERIOD, clock=clock)
    assert _reload(session, order.order_no).spot_check
    with pytest.raises(payments.PaymentError, match="退回原因"):
        payments.check(session, staff["finance"], order.order_no, passed=False, reason="  ", clock=clock)
    payments.check(session, staff["finance"], order.order_no, passed=False, reason="保障人数与审批表不一致",
                   clock=clock)
    returned = _reload(session, order.order_no)
    assert (returned.status, returned.return_reason, returned.checked_by) == ("returned", "保障人数与审批表不一致",
                                                                              "caiwu01")
    with pytest.raises(access.AccessDenied, match="财务人员无权审批救助"):
        payments.correct_returned(session, staff["finance"], order.order_no, amount=510, note="改",
                                  clock=clock)
    with pytest.raises(payments.PaymentError) as err:
        payments.correct_returned(session, staff["approver"], order.order_no, amount=-1, note="按一人户",
                                  clock=clock)
    assert err.value.code == "AMOUNT_INVALID"
    with pytest.raises(payments.PaymentError, match="更正说明"):
        payments.correct_returned(session, staff["approver"], order.order_no, amount=510, note="",
                                  clock=clock)
    payments.correct_returned(session, staff["approver"], order.order_no, amount=510, note="按一人户标准重算",
                              clock=clock)
    corrected = _reload(session, order.order_no)
    assert (corrected.status, corrected.spot_check, corrected.amount) == ("pending_check", True, 510.0)
    assert "保障人数与审批表不一致" in corrected.return_reason and "按一人户标准重算" in corrected.return_reason
    # Corrected orders are not drawn again: they wait for the finance officer.
    assert payments.select_for_check(session, staff["finance"], JINJIANG, PERIOD, clock=clock).considered == 0
    payments.check(session, staff["finance"], order.order_no, passed=True, clock=clock)
    assert _reload(session, order.order_no).status == "checked"
    with pytest.raises(payments.PaymentError) as err:
        payments.check(session, staff["finance"], order.order_no, passed=True, clock=clock)
    assert err.value.code == "STATUS_INVALID" and "已审核待发放" in err.value.message

    subject = masking.pseudonym(order.payee_person_id)
    trail = session.scalars(select(AuditLog).where(AuditLog.subject_key == subject)
                            .order_by(AuditLog.seq)).all()
    steps = [(e.actor, e.action, e.outcome, json.loads(e.detail).get("step")) for e in trail]
    assert steps == [("caiwu01", "manage_funds", "allowed", "return"),
                     ("caiwu01", "approve_assistance", "denied", "correct"),
                     ("shenpi01", "approve_assistance", "allowed", "correct"),
                     ("caiwu01", "manage_funds", "allowed", "pass"),
                     ("caiwu01", "manage_funds", "allowed", "pass")]
    assert all(e.purpose for e in trail) and all(order.payee_person_id not in e.detail for e in trail)


# --- payment files -----------------------------------------------------------------------------------------


def test_payment_files_hold_only_checked_orders_and_parse_back_with_their_trailer_totals(
        session, clock, staff, orders):
    card = [orders.add(a, status="checked") for a in (685.0, 1025.5, 510.25)]
    pending = orders.add(720.0)
    temporary = orders.add(1500.0, category="temporary", paid_before=(), status="checked")
    elsewhere = orders.add(800.0, township=QINGYANG_TOWNSHIP, status="checked")
    assert temporary.channel == "bank" and {o.channel for o in card} == {"card"}

    batch, content = payments.payment_file(session, staff["finance"], JINJIANG, PERIOD, "card", clock=clock)
    rows = _rows(content)
    assert rows[0] == ["H", "社保卡惠民惠农资金发放", batch.batch_no, JINJIANG, "202503", "20250303"]
    details = rows[1:-1]
    assert [r[2] for r in details] == sorted(o.order_no for o in card)
    by_no = {o.order_no: o for o in card}
    for seq, row in enumerate(details, start=1):
        order = by_no[row[2]]
        assert row == ["D", str(seq), order.order_no, order.account_no, order.payee_name,
                       order.payee_person_id, f"{order.amount:.2f}", "最低生活保障", "202503"]
    assert rows[-1] == ["T", "3", "2220.75"]
    assert content.endswith(b"\r\n") and batch.file_sm3 == hashlib.new("sm3", content).hexdigest()
    assert (batch.order_count, batch.total_amount, batch.status) == (3, 2220.75, "sent")
    assert {_reload(session, o.order_no).status for o in card} == {"in_batch"}
    assert {_reload(session, o.order_no).batch_no for o in card} == {batch.batch_no}
    assert _reload(session, pending.order_no).status == "pending_check"
    assert _reload(session, elsewhere.order_no).status == "checked"
    assert payments.batch_file(session, staff["finance"], batch.batch_no, purpose="重新下载发放文件",
                               clock=clock) == content

    bank, bank_content = payments.payment_file(session, staff["finance"], JINJIANG, PERIOD, "bank",
                                               clock=clock)
    bank_rows = _rows(bank_content)
    assert bank_rows[0][:3] == ["H", "银行代发", bank.batch_no] and bank.batch_no != batch.batch_no
    assert bank_rows[1] == ["D", "1", temporary.order_no, temporary.account_no, temporary.payee_name,
                            temporary.payee_person_id, "1500.00", "2025-03临时救助金"]
    assert bank_rows[2] == ["T", "1", "1500.00"]

    with pytest.raises(payments.PaymentError) as err:
        payments.payment_file(session, staff["finance"], JINJIANG, PERIOD, "card", clock=clock)
    assert err.value.code == "NO_CHECKED_ORDERS"
    assert err.value.message == ("四川省成都市锦江区2025-03没有已通过财务审核、待发放的社保卡(一卡通)拨付单,"
                                 "不能生成发放文件")
    made = session.scalars(select(AuditLog).where(AuditLog.action == "payment_file_generated")).all()
    assert [json.loads(e.detail)["orders"] for e in made] == [3, 1]
    file_reads = session.scalars(select(AuditLog).where(AuditLog.action == "manage_funds",
                                                        AuditLog.outcome == "allowed")).all()
    assert all(e.purpose and json.loads(e.detail)["level"] == 3 for e in file_reads)


# --- the bank's result -------------------------------------------------------------------------------------


def _batch_of(session, clock, staff, orders, amounts) -> tuple[PaymentBatch, list[DisbursementOrder]]:
    made = [orders.add(a, status="checked") for a in amounts]
    batch, _ = payments.payment_file(session, staff["finance"], JINJIANG, PERIOD, "card", clock=clock)
    return batch, sorted(made, key=lambda o: o.order_no)


def test_reconciliation_flags_missing_duplicate_wrong_amount_payee_unknown_and_failed_in_one_import(
        session, clock, staff, orders, paid_hook):
    batch, (ok1, ok2, missing, twice, short, stranger, failed) = _batch_of(
        session, clock, staff, orders, (685.0, 720.0, 510.0, 600.0, 1025.0, 880.0, 700.0))
    someone_else = orders.person(TOWNSHIP)[0]
    content = _result_file([
        _paid_line(ok1), _paid_line(ok2), _paid_line(twice), _paid_line(twice),
        _paid_line(short, amount=1024.99), _paid_line(stranger, person=someone_else),
        _paid_line(failed, status="失败"),
        ("BF20250399999999", someone_else, "300.00", "2025-03-10", "成功")])

    report = payments.import_results(session, staff["finance"], batch.batch_no, content, clock=clock)

    assert (report.lines, report.stored, report.already, report.bad) == (8, 8, 0, [])
    assert _issues(session, batch.batch_no) == {
        "missing": {missing.order_no}, "duplicate": {twice.order_no}, "wrong_amount": {short.order_no},
        "wrong_payee": {stranger.order_no}, "failed": {failed.order_no},
        "unknown_order": {"BF20250399999999"}}
    everyone = (ok1, ok2, missing, twice, short, stranger, failed)
    status = {o.order_no: _reload(session, o.order_no).status for o in everyone}
    assert status == {ok1.order_no: "paid", ok2.order_no: "paid", missing.order_no: "mismatch",
                      twice.order_no: "mismatch", short.order_no: "mismatch", stranger.order_no: "mismatch",
                      failed.order_no: "failed"}
    assert paid_hook == report.paid == [ok1.order_no, ok2.order_no]  # the case flow hears of exactly these
    assert report.failed == [failed.order_no] and report.open_issues == 6
    wrong = session.scalars(select(ReconciliationIssue)
                            .where(ReconciliationIssue.kind == "wrong_amount")).one()
    assert wrong.detail == "银行发放金额1024.99元与拨付金额1025.00元不符(第6行)" and wrong.status == "open"
    assert session.get(PaymentBatch, batch.id).status == "reconciled"
    summary = payments.summary(session, JINJIANG, PERIOD)
    assert summary.by_status["paid"] == (2, "1405.00") and summary.by_status["mismatch"][0] == 4
    assert summary.open_issues == {"missing": 1, "duplicate": 1, "wrong_amount": 1, "wrong_payee": 1,
                                   "failed": 1, "unknown_order": 1}
    done = session.scalars(select(AuditLog).where(AuditLog.action == "payment_results_imported")).one()
    assert json.loads(done.detail)["paid"] == 2 and someone_else not in done.detail


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_the_bank_file_is_read_in_gb18030_or_utf8_with_or_without_bom(encoding):
    text = "拨付单号,收款人证件号码,发放金额,发放日期,发放状态\r\nBF2025030001,X,1.00,2025-03-10,成功\r\n"
    assert payments.decode(text.encode(encoding)) == text


def test_malformed_lines_are_reported_with_their_line_numbers_while_the_good_lines_are_processed(
        session, clock, staff, orders, paid_hook):
    batch, (a, b, c) = _batch_of(session, clock, staff, orders, (685.0, 720.0, 510.0))
    content = _result_file([
        _paid_line(a),                                                          # line 2
        (b.order_no, b.payee_person_id, "720.00", "2025-02-30", "成功"),          # 3: no such day
        (b.order_no, b.payee_person_id, "七百二十", "2025-03-10", "成功"),          # 4: not a number
        (b.order_no, b.payee_person_id, "720.00", "2025-03-10"),                 # 5: four columns
        (b.order_no, b.payee_person_id, "720.00", "2025-03-10", "处理中"),        # 6: unknown status
        (b.order_no, b.payee_person_id, "-720.00", "2025-03-10", "成功"),         # 7: negative
        (),                                                                     # 8: blank, ignored
        _paid_line(c),                                                          # 9
    ], encoding="utf-8-sig")

    report = payments.import_results(session, staff["finance"], batch.batch_no, content, clock=clock)

    assert [(bad.line_no, bad.reason_zh) for bad in report.bad] == [
        (3, "发放日期“2025-02-30”无效,应为YYYY-MM-DD格式的日期"),
        (4, "发放金额“七百二十”无效,应为不小于0、最多两位小数的数字"),
        (5, "应有5列(拨付单号、收款人证件号码、发放金额、发放日期、发放状态),实际为4列"),
        (6, "发放状态“处理中”无法识别,应为“成功”或“失败”"),
        (7, "发放金额“-720.00”无效,应为不小于0、最多两位小数的数字")]
    assert (report.lines, report.stored) == (7, 2)
    assert sorted(session.scalars(select(PaymentResult.line_no))) == [2, 9]
    assert paid_hook == [a.order_no, c.order_no]
    assert _reload(session, b.order_no).status == "mismatch" and _issues(session, batch.batch_no) == {
        "missing": {b.order_no}}
    with pytest.raises(payments.PaymentError, match="编码"):
        payments.import_results(session, staff["finance"], batch.batch_no, b"\xff\xfe\x00\x81\x30",
                                clock=clock)
    with pytest.raises(payments.PaymentError, match="为空"):
        payments.import_results(session, staff["finance"], batch.batch_no, b"\r\n", clock=clock)


def test_importing_the_same_file_again_changes_nothing_and_a_different_file_is_not_mixed_in(
        session, clock, staff, orders, paid_hook):
    batch, (a, b, c) = _batch_of(session, clock, staff, orders, (685.0, 720.0, 510.0))
    content = _result_file([_paid_line(a), _paid_line(b, amount=700.0), _paid_line(c, status="失败")])
    first = payments.import_results(session, staff["finance"], batch.batch_no, content, clock=clock)
    clock.advance(hours=2)
    again = payments.import_results(session, staff["finance"], batch.batch_no, content, clock=clock)

    assert (first.stored, first.paid, len(first.issues)) == (3, [a.order_no], 2)
    assert (again.stored, again.already, again.paid, again.issues, again.open_issues) == (0, 3, [], [], 2)
    assert session.scalar(select(func.count()).select_from(PaymentResult)) == 3
    assert session.scalar(select(func.count()).select_from(ReconciliationIssue)) == 2
    assert paid_hook == [a.order_no]
    other = _result_file([_paid_line(a), _paid_line(b), _paid_line(c)])
    mixed = payments.import_results(session, staff["finance"], batch.batch_no, other, clock=clock)
    assert [bad.line_no for bad in mixed.bad] == [3, 4] and all("内容不同" in bad.reason_zh for bad in mixed.bad)
    assert [_reload(session, o.order_no).status for o in (b, c)] == ["mismatch", "failed"]


def test_an_issue_is_resolved_with_a_note_and_a_failed_payment_goes_into_the_next_file(
        session, clock, staff, orders, paid_hook):
    batch, (a, b) = _batch_of(session, clock, staff, orders, (685.0, 720.0))
    content = _result_file([_paid_line(a, amount=680.0), _paid_line(b, status="失败")])
    payments.import_results(session, staff["finance"], batch.batch_no, content, clock=clock)
    issue = {i.kind: i for i in session.scalars(select(ReconciliationIssue))}
    with pytest.raises(payments.PaymentError, match="处理情况"):
        payments.resolve_issue(session, staff["finance"], issue["failed"].id, " ", clock=clock)
    with pytest.raises(payments.PaymentError, match="只有发放失败"):
        payments.resolve_issue(session, staff["finance"], issue["wrong_amount"].id, "已补发差额", requeue=True,
                               clock=clock)
    payments.resolve_issue(session, staff["finance"], issue["wrong_amount"].id, "银行已补发差额5元", clock=clock)
    payments.resolve_issue(session, staff["finance"], issue["failed"].id, "账户已冻结,户主已更换社保卡",
                           requeue=True, clock=clock)
    resolved = session.get(ReconciliationIssue, issue["failed"].id)
    assert (resolved.status, resolved.resolved_by, resolved.resolution_note) == (
        "resolved", "caiwu01", "账户已冻结,户主已更换社保卡")
    assert (_reload(session, b.order_no).status, _reload(session, b.order_no).batch_no) == ("checked", None)
    with pytest.raises(payments.PaymentError, match="已经处理"):
        payments.resolve_issue(session, staff["finance"], issue["failed"].id, "再次处理", clock=clock)
    again, again_content = payments.payment_file(session, staff["finance"], JINJIANG, PERIOD, "card",
                                                 clock=clock)
    assert again.batch_no.endswith("-02") and [r[2] for r in _rows(again_content)[1:-1]] == [b.order_no]
    # The old file imported again: the re-sent order's failure line is settled, not an unknown order.
    repeat = payments.import_results(session, staff["finance"], batch.batch_no, content, clock=clock)
    assert repeat.issues == [] and _issues(session, batch.batch_no) == {"wrong_amount": {a.order_no},
                                                                        "failed": {b.order_no}}
    payments.import_results(session, staff["finance"], again.batch_no, _result_file([_paid_line(b)]),
                            clock=clock)
    assert _reload(session, b.order_no).status == "paid" and paid_hook == [b.order_no]


def test_a_paid_one_off_payment_reaches_the_case_flow_through_the_real_hook(session, clock, staff, orders):
    """No monkeypatch: the import calls ``assistance.cases.order_paid``, which ends a one-off benefit."""
    person, name = orders.person(TOWNSHIP)
    now = clock()
    case = AssistanceCase(acceptance_no="SL2025030300001", aid_item_code="temporary_general",
                          item_version=1, category="temporary", flow_code="temporary", region_code=TOWNSHIP,
                          applicant_person_id=person, applicant_name=name, channel="window",
                          status="approved", created_by="jingban01", created_at=now, updated_at=now)
    session.add(case)
    session.flush()
    benefit = Benefit(case_id=case.id, aid_item_code="temporary_general", category="temporary",
                      holder_person_id=person, holder_name=name, region_code=TOWNSHIP, household_size=1,
                      monthly_amount=1200.0, start_period=PERIOD, status="active", created_at=now,
                      updated_at=now)
    session.add(benefit)
    session.flush()
    order = funds.create_order(session, benefit, PERIOD, created_by="shenpi01", clock=clock)
    order.status = "checked"
    session.commit()
    batch, _ = payments.payment_file(session, staff["finance"], JINJIANG, PERIOD, "bank", clock=clock)
    result = _result_file([_paid_line(order)])
    report = payments.import_results(session, staff["finance"], batch.batch_no, result, clock=clock)
    assert report.paid == [order.order_no] and _reload(session, order.order_no).status == "paid"
    assert session.get(Benefit, benefit.id).status == "ended"


# --- who may ---------------------------------------------------------------------------------------------


def test_a_case_worker_and_another_countys_finance_officer_are_refused_and_audited(
        session, clock, staff, orders):
    order = orders.add(685.0, paid_before=())
    checked = orders.add(720.0, status="checked")
    worker, outsider = staff["worker"], staff["outsider"]
    attempts = [
        (worker, lambda u: payments.select_for_check(session, u, TOWNSHIP, PERIOD, clock=clock),
         "ROLE_NOT_PERMITTED"),
        (worker, lambda u: payments.payment_file(session, u, TOWNSHIP, PERIOD, "card", clock=clock),
         "ROLE_NOT_PERMITTED"),
        (outsider, lambda u: payments.select_for_check(session, u, JINJIANG, PERIOD, clock=clock),
         "OUT_OF_JURISDICTION"),
        (outsider, lambda u: payments.check(session, u, order.order_no, passed=True, clock=clock),
         "OUT_OF_JURISDICTION"),
        (outsider, lambda u: payments.payment_file(session, u, JINJIANG, PERIOD, "card", clock=clock),
         "OUT_OF_JURISDICTION"),
    ]
    for user, attempt, code in attempts:
        with pytest.raises(access.AccessDenied) as err:
            attempt(user)
        assert err.value.code == code and err.value.message_zh
    with pytest.raises(access.AccessDenied) as err:
        payments.payment_file(session, staff["finance"], JINJIANG, PERIOD, "card", purpose=" ", clock=clock)
    assert err.value.code == "PURPOSE_REQUIRED"
    assert (_reload(session, order.order_no).status, _reload(session, order.order_no).spot_check) == (
        "pending_check", False)
    assert _reload(session, checked.order_no).status == "checked"
    assert session.scalar(select(func.count()).select_from(PaymentBatch)) == 0

    batch, _ = payments.payment_file(session, staff["finance"], JINJIANG, PERIOD, "card", clock=clock)
    with pytest.raises(access.AccessDenied):
        payments.import_results(session, outsider, batch.batch_no, _result_file([_paid_line(checked)]),
                                clock=clock)
    assert session.scalar(select(func.count()).select_from(PaymentResult)) == 0

    denied = session.scalars(select(AuditLog).where(AuditLog.outcome == "denied")
                             .order_by(AuditLog.seq)).all()
    assert [(e.actor, e.action) for e in denied] == [("jingban01", "manage_funds")] * 2 + [
        ("caiwu09", "manage_funds")] * 3 + [("caiwu01", "manage_funds"), ("caiwu09", "manage_funds")]
    assert denied[3].subject_key == masking.pseudonym(order.payee_person_id)
