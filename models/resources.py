"""Social resources (MN-5): the catalogue of public-interest service projects in
``models/social_resources.yaml`` and the needs a monitoring warning reveals, matched by need and
region (the most local project first)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

CATALOGUE_PATH = Path(__file__).with_name("social_resources.yaml")
NEEDS = ("medical", "disability", "education", "elderly", "employment", "bereavement")
NEED_ZH = {"medical": "医疗", "disability": "残疾康复", "education": "教育", "elderly": "养老照护",
           "employment": "就业", "bereavement": "家庭变故"}


@dataclass(frozen=True)
class Project:
    code: str
    name_zh: str
    provider: str
    needs: tuple[str, ...]
    regions: tuple[str, ...]
    service_zh: str


@cache
def catalogue(path: str | None = None) -> tuple[Project, ...]:
    raw = yaml.safe_load(Path(path or CATALOGUE_PATH).read_text("utf-8"))
    projects = []
    for p in raw["projects"]:
        unknown = set(p["needs"]) - set(NEEDS)
        if unknown:
            raise ValueError(f"社会资源项目{p['code']}的需求类别无效:{', '.join(sorted(unknown))}")
        projects.append(Project(p["code"], p["name_zh"], p["provider"], tuple(p["needs"]),
                                tuple(str(r) for r in p["regions"]), p["service_zh"]))
    return tuple(projects)


def needs_of(row: dict) -> list[str]:
    """The needs one evaluated row of the monitoring features shows (indicators that hold, members)."""
    ind = lambda code: bool(row.get(f"ind_{code}"))
    found = []
    if ind("MEDICAL_SPENDING_HIGH") or ind("MEDICAL_BURDEN_HEAVY"):
        found.append("medical")
    if ind("WORKING_AGE_DISABILITY") or ind("SEVERE_DISABILITY"):
        found.append("disability")
    if (row.get("child_members") or 0) > 0 and (ind("INCOME_BELOW_STANDARD") or ind("FELL_BELOW_STANDARD")):
        found.append("education")
    if (row.get("elderly_members") or 0) > 0 and ind("NO_WORKING_AGE_MEMBER"):
        found.append("elderly")
    if ind("JOB_LOST") or ind("CONTRIBUTIONS_STOPPED") or ind("WAGES_FELL"):
        found.append("employment")
    if ind("WORKING_AGE_DEATH"):
        found.append("bereavement")
    return found


def serves(project: Project, county_code: str) -> int | None:
    """How locally a project serves the county (higher is more local), or None."""
    county = county_code[:6]
    best = None
    for r in project.regions:
        if r == county:
            level = 3
        elif r.endswith("00") and not r.endswith("0000") and county.startswith(r[:4]):
            level = 2
        elif r == "510000":
            level = 1
        else:
            continue
        best = max(best or 0, level)
    return best


def suggest(needs: list[str], county_code: str, limit: int = 3) -> list[dict]:
    scored = []
    for p in catalogue():
        met = [n for n in needs if n in p.needs]
        local = serves(p, county_code)
        if met and local:
            scored.append((-len(met), -local, p.code, p, met))
    return [{"code": p.code, "name_zh": p.name_zh, "provider": p.provider, "service_zh": p.service_zh,
             "needs_zh": [NEED_ZH[n] for n in met]} for *_, p, met in sorted(scored)[:limit]]
