"""Score the marts against the synthetic province's ground truth (evaluation code only: the
pipeline never reads the truth). Used by `jiuzhu evaluate` and the tests."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

import duckdb


def evaluate(province_dir: Path, warehouse: Path, month: str | None = None) -> dict:
    con = duckdb.connect()
    con.execute("SET autoinstall_known_extensions = false; SET autoload_known_extensions = false")
    con.execute("ATTACH ? AS w (READ_ONLY)", [str(warehouse)])
    truth_glob = str(Path(province_dir) / "truth" / "household_months" / "*.parquet")
    persons_glob = str(Path(province_dir) / "truth" / "persons" / "*.parquet")
    con.register("truth", con.read_parquet(truth_glob))
    con.register("truth_persons", con.read_parquet(persons_glob))
    month = month or con.sql("select max(period) from w.main.household_profile").fetchall()[0][0]
    # informal income (farming, odd jobs, uninsured migrant work) reaches no department
    con.execute("""
        CREATE TEMP VIEW hidden AS
        SELECT household_no, max(CASE WHEN employment IN (2, 4) OR (employment = 5 AND NOT insured) THEN 1 ELSE 0 END) AS has_hidden_income
        FROM truth_persons GROUP BY household_no
    """)
    agree = con.execute("""
        SELECT count(*) AS households,
               avg(CASE WHEN (p.assessment = '符合') = t.eligible THEN 1.0 ELSE 0.0 END) AS agreement,
               sum(CASE WHEN p.assessment = '符合' AND NOT t.eligible THEN 1 ELSE 0 END) AS missed_ineligible,
               sum(CASE WHEN p.assessment = '符合' AND NOT t.eligible AND h.has_hidden_income = 1 THEN 1 ELSE 0 END) AS missed_hidden_income,
               sum(CASE WHEN p.assessment <> '符合' AND t.eligible THEN 1 ELSE 0 END) AS wrongly_failed,
               sum(CASE WHEN p.assessment = '不符合' AND t.eligible THEN 1 ELSE 0 END) AS wrongly_refused
        FROM w.main.household_profile p
        JOIN truth t ON t.household_no = p.household_no AND t.month = p.period
        LEFT JOIN hidden h ON h.household_no = p.household_no
        WHERE p.period = ?
    """, [month]).fetchone()
    detect = con.execute("""
        WITH r AS (SELECT household_no, eligible FROM truth WHERE month = ? AND status IN ('dibao', 'tekun')),
             d AS (SELECT DISTINCT household_no FROM w.main.detection_list WHERE period = ? AND assessment = '不符合')
        SELECT count(*) AS recipients,
               sum(CASE WHEN NOT r.eligible THEN 1 ELSE 0 END) AS truly_ineligible,
               sum(CASE WHEN d.household_no IS NOT NULL THEN 1 ELSE 0 END) AS detected,
               sum(CASE WHEN d.household_no IS NOT NULL AND NOT r.eligible THEN 1 ELSE 0 END) AS true_positives,
               sum(CASE WHEN d.household_no IS NULL AND NOT r.eligible AND h.has_hidden_income = 1 THEN 1 ELSE 0 END) AS missed_hidden_income
        FROM r LEFT JOIN d ON d.household_no = r.household_no LEFT JOIN hidden h ON h.household_no = r.household_no
    """, [month, month]).fetchone()
    recipients, ineligible, detected, tp, missed_hidden = detect
    return {
        "month": month, "evaluated_on": _dt.date.today().isoformat(),
        "households": agree[0], "assessment_agreement": round(agree[1] or 0, 4),
        "assessed_eligible_but_not": agree[2], "of_which_hidden_income": agree[3],
        "assessed_ineligible_but_eligible": agree[4], "refused_but_eligible": agree[5],
        "recipients": recipients, "truly_ineligible_recipients": ineligible, "detected": detected,
        "detection_precision": round(tp / detected, 4) if detected else None,
        "detection_recall": round(tp / ineligible, 4) if ineligible else None,
        "missed_with_hidden_income": missed_hidden,
    }


def markdown(result: dict, scale: str) -> str:
    r = result
    return f"""# Evaluation against the ground truth

Written by `jiuzhu evaluate` on {r['evaluated_on']} for the {scale} province, month {r['month']}.

| measure | value |
|---|---|
| households assessed | {r['households']:,} |
| assessment agrees with true eligibility | {r['assessment_agreement']:.2%} |
| assessed 符合 but truly ineligible | {r['assessed_eligible_but_not']:,} (of which with informal income no department reports: {r['of_which_hidden_income']:,}) |
| assessed not 符合 but truly eligible | {r['assessed_ineligible_but_eligible']:,} (of which 不符合: {r['refused_but_eligible']:,}; the rest 需人工复核) |
| recipients (dibao, tekun) | {r['recipients']:,} |
| truly ineligible recipients | {r['truly_ineligible_recipients']:,} |
| detection list (不符合) | {r['detected']:,} |
| detection precision | {r['detection_precision']} |
| detection recall | {r['detection_recall']} |
| ineligible recipients missed, with informal income | {r['missed_with_hidden_income']:,} |

## Why the figures fall short of 0.95

- **Income no department reports.** Farming, odd jobs, self-employment without a registration and
  uninsured migrant work reach none of the thirteen feeds; the truth counts them, the assessment
  cannot. Almost every household assessed 符合 but truly ineligible, and almost every ineligible
  recipient the detection list misses, has such income (rows above). Closing the gap needs data the
  platform does not receive (agricultural subsidies and land contracts from 农业农村, e-payments
  from 人民银行/支付机构, household surveys); the staff app shows these cases as 需人工复核 only where a
  rule says so — home visits remain the remedy.
- **Assets outside the banks' answers.** Banks report only on households the platform asks about
  (recipients, monitored households, applicants); other households' deposits are unknown to the
  assessment (the profile marks `has_bank_data = 0`).
- **Precision**: a detected recipient is ineligible by the same rules the truth uses, on data the
  departments delivered; a false detection would mean a rule or a join is wrong.
"""
