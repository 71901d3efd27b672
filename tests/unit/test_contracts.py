"""Contracts: one per department, well-formed, versioned; the data dictionary follows them."""

from pathlib import Path

import pytest

from jiuzhu import departments
from schemas import contracts, dictionary

ROOT = Path(__file__).resolve().parents[2]


def test_every_department_has_a_contract_with_keys_pii_and_access_levels():
    for dept in departments.all_departments():
        c = contracts.latest(dept.slug)
        assert c.code == dept.code and c.contact
        assert c.keys and all(k in {f.name for f in c.fields} for k in c.keys)
        assert all(1 <= f.access_level <= 4 for f in c.fields)
        assert any(f.type == "citizen_id" for f in c.fields)
        assert all(f.description for f in c.fields)


def test_an_unknown_version_is_refused_with_a_chinese_message():
    with pytest.raises(contracts.UnknownContract) as err:
        contracts.get("renshe", "0.9")
    assert "renshe" in err.value.message and "0.9" in err.value.message


def test_personal_fields_are_classified():
    for c in contracts.all_contracts().values():
        for f in c.fields:
            if f.type == "citizen_id":
                assert f.pii == "id" and f.access_level >= 3
            if f.name == "person_name":
                assert f.pii == "name"


def test_the_committed_data_dictionary_is_current():
    assert (ROOT / "docs" / "data-dictionary.md").read_text("utf-8") == dictionary.markdown()
    assert "person_id" in dictionary.markdown() and "公安" in dictionary.markdown()
