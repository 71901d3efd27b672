"""The vocabulary of sharing departments, read from ``jiuzhu/data/departments.yaml``."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml


@dataclass(frozen=True)
class Delivery:
    format: str
    encoding: str | None
    amount_unit: str | None
    date_style: str
    agreed_day: int
    cadence: str


@dataclass(frozen=True)
class Department:
    slug: str
    name: str
    short_name: str
    code: str
    contact: str
    entity: str
    entity_name: str
    delivery: Delivery

    @property
    def bronze_table(self) -> str:
        return f"raw__{self.slug}__{self.entity}"


@cache
def all_departments() -> tuple[Department, ...]:
    text = (resources.files("jiuzhu") / "data" / "departments.yaml").read_text("utf-8")
    raw = yaml.safe_load(text)["departments"]
    return tuple(Department(**{**d, "delivery": Delivery(**d["delivery"])}) for d in raw)


def get(slug: str) -> Department:
    for d in all_departments():
        if d.slug == slug:
            return d
    raise KeyError(f"未知的共享单位:{slug}")


def slugs() -> list[str]:
    return [d.slug for d in all_departments()]
