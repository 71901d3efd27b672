"""silver/quarantined_members: households with a hukou row the exchange quarantined that the
department has not corrected since; a duplicate delivery loses no member."""

import json

import pyarrow as pa
from deltalake import DeltaTable

from exchange import silver
from jiuzhu import lake


def _quarantine(rows):
    return pa.table({
        "_period": [r[0] for r in rows], "_reason_code": [r[1] for r in rows],
        "_raw_row": [json.dumps({"household_no": r[2], "person_name": r[3], "person_id": "bad"}, ensure_ascii=False)
                     for r in rows],
    })


def test_outstanding_quarantined_rows_mark_their_household_from_the_first_month(tmp_path):
    lake.write(lake.table_path(tmp_path, "quarantine", "gongan", "rejected_rows"), _quarantine([
        ("2024-11", "ID_CHECK", "510104000000001", "甲"),
        ("2025-03", "REGION_UNKNOWN", "510104000000001", "乙"),
        ("2024-11", "DUPLICATE_ROW", "510104000000002", "丙"),  # the same row twice: nobody missing
        ("2024-11", "ID_CHECK", "510104000000003", "丁"),  # corrected later: 丁 is now a member
        ("2024-11", "REQUIRED_MISSING", "", "戊"),  # no household number: cannot be placed
    ]))
    lake.write(silver.table_path(tmp_path, "persons"), pa.table({
        "household_no": ["510104000000003", "510104000000001"], "person_name": ["丁", "庚"]}))
    assert silver.rebuild_quarantined_members(tmp_path) == 1
    rows = DeltaTable(str(silver.table_path(tmp_path, "quarantined_members"))).to_pyarrow_table().to_pylist()
    assert rows == [{"household_no": "510104000000001", "since_period": "2024-11", "member_rows": 2,
                     "reason_codes": "ID_CHECK,REGION_UNKNOWN"}]
    assert "甲" not in json.dumps(rows, ensure_ascii=False)  # names stay out of the derived table


def test_the_table_exists_and_is_empty_without_quarantine(tmp_path):
    assert silver.rebuild_quarantined_members(tmp_path) == 0
    table = DeltaTable(str(silver.table_path(tmp_path, "quarantined_members"))).to_pyarrow_table()
    assert table.num_rows == 0 and table.schema == silver.QUARANTINED_MEMBERS_SCHEMA
