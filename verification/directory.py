"""人员查询 (AN-1): the person directory and the fuzzy search over it.

The directory (gold ``verification/person_directory``) is the hukou persons of silver with each
name's pinyin (full, without tones) and initials, built by a Dagster asset after every refresh of
silver. ``search`` finds people by a partial Chinese name or a homophone (张伟 finds 章伟), by pinyin
(``zhangwei``) or initials (``zw``), or by a partial citizen ID (at least four characters: a prefix,
a suffix or any run), inside a region prefix. Screens call it through the access checks and the
audit trail; this module knows nothing of users.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pyarrow as pa
from pypinyin import Style, lazy_pinyin

from jiuzhu import lake

GOLD = ("verification", "person_directory")
COLUMNS = ["person_key", "person_id", "person_name", "sex", "ethnicity", "birth_date", "household_no", "relation",
           "region_code", "alive"]
_ID_QUERY = re.compile(r"^[0-9Xx]{4,18}$")
_LETTERS = re.compile(r"^[A-Za-z]{2,40}$")
_HAN = re.compile(r"^[\u3400-\u9fff·]{1,20}$")
KIND_ZH = {"id": "身份证号", "pinyin": "拼音", "name": "姓名"}


class QueryError(ValueError):
    """The query cannot be searched: the message says what to type instead (in Chinese)."""


def pinyin_of(name: str) -> tuple[str, str]:
    syllables = lazy_pinyin(name, style=Style.NORMAL, errors="ignore")
    return "".join(syllables).lower(), "".join(s[0] for s in syllables if s).lower()


def build(lake_root: Path) -> pa.Table:
    """The directory from silver persons (each distinct name transliterated once)."""
    from deltalake import DeltaTable

    persons = pl.from_arrow(DeltaTable(str(lake.table_path(Path(lake_root), "silver", "persons")))
                            .to_pyarrow_table(columns=COLUMNS))
    names = persons.select(pl.col("person_name").drop_nulls().unique()).to_series().to_list()
    full, initials = zip(*(pinyin_of(n) for n in names), strict=True) if names else ((), ())
    spelled = pl.DataFrame({"person_name": names, "name_pinyin": list(full), "name_initials": list(initials)},
                           schema={"person_name": pl.Utf8, "name_pinyin": pl.Utf8, "name_initials": pl.Utf8})
    return persons.join(spelled, on="person_name", how="left").to_arrow()


def publish(lake_root: Path) -> int:
    table = build(lake_root)
    return lake.write(lake.table_path(Path(lake_root), "gold", *GOLD), table)


def read(lake_root: Path) -> pl.DataFrame:
    from deltalake import DeltaTable

    path = lake.table_path(Path(lake_root), "gold", *GOLD)
    if not lake.exists(path):
        raise FileNotFoundError("人员目录尚未生成(gold/verification/person_directory),请先运行 serving_index 作业")
    return pl.from_arrow(DeltaTable(str(path)).to_pyarrow_table())


@dataclass(frozen=True)
class Found:
    kind: str  # id, pinyin, name
    rows: pl.DataFrame  # the directory's columns and match (exact / prefix / partial / homophone)
    truncated: bool


def classify(query: str) -> str:
    q = query.strip()
    if _ID_QUERY.match(q):
        return "id"
    if _LETTERS.match(q):
        return "pinyin"
    if _HAN.match(q):
        return "name"
    raise QueryError("请输入姓名(可只输部分字)、姓名拼音或首字母,或身份证号中连续的至少4位")


def search(directory: pl.DataFrame, query: str, region_prefix: str, limit: int = 50) -> Found:
    q = query.strip()
    kind = classify(q)
    scope = directory.filter(pl.col("region_code").str.starts_with(region_prefix))
    if kind == "id":
        needle = q.upper()
        rank = (pl.when(pl.col("person_id") == needle).then(0)
                .when(pl.col("person_id").str.starts_with(needle) | pl.col("person_id").str.ends_with(needle)).then(1)
                .when(pl.col("person_id").str.contains(needle, literal=True)).then(2))
        labels = {0: "完全一致", 1: "首尾一致", 2: "部分一致"}
    elif kind == "pinyin":
        needle = q.lower()
        rank = (pl.when(pl.col("name_pinyin") == needle).then(0)
                .when(pl.col("name_initials") == needle).then(1)
                .when(pl.col("name_pinyin").str.starts_with(needle) | pl.col("name_initials").str.starts_with(needle))
                .then(2).when(pl.col("name_pinyin").str.contains(needle, literal=True)).then(3))
        labels = {0: "拼音一致", 1: "首字母一致", 2: "拼音开头一致", 3: "拼音部分一致"}
    else:
        spelled, _ = pinyin_of(q)
        rank = (pl.when(pl.col("person_name") == q).then(0)
                .when(pl.col("person_name").str.starts_with(q)).then(1)
                .when(pl.col("person_name").str.contains(q, literal=True)).then(2)
                .when((pl.col("name_pinyin") == spelled) if spelled else pl.lit(False)).then(3))
        labels = {0: "姓名一致", 1: "姓名开头一致", 2: "姓名部分一致", 3: "同音"}
    hits = (scope.with_columns(rank=rank).filter(pl.col("rank").is_not_null())
            .sort(["rank", "alive", "person_name", "person_key"], descending=[False, True, False, False]))
    truncated = hits.height > limit
    hits = hits.head(limit).with_columns(match=pl.col("rank").replace_strict(labels, return_dtype=pl.Utf8))
    return Found(kind, hits, truncated)


def household(directory: pl.DataFrame, household_no: str) -> pl.DataFrame:
    return directory.filter(pl.col("household_no") == household_no).sort("relation")
