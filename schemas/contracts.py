"""Department contracts (``schemas/contracts/<department>/v<version>.yaml``) and their loader.

A contract change is a new version file: a batch is always validated against the version its
manifest declares, so old batches keep validating as they did.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from importlib import resources

import yaml

FIELD_TYPES = {"citizen_id", "string", "code", "date", "period", "amount", "number", "integer",
               "region_code", "uscc"}
PII_CLASSES = {"none", "id", "name", "phone", "account", "address", "sensitive"}
UNITS_TO_YUAN = {"yuan": 1.0, "fen": 0.01, "wanyuan": 10000.0}


class UnknownContract(LookupError):
    def __init__(self, department: str, version: str):
        super().__init__(f"{department} v{version}")
        self.code = "CONTRACT_UNKNOWN"
        self.message = f"共享单位{department}没有版本为{version}的数据共享协议"


@dataclass(frozen=True)
class Field:
    source: str  # the column name the department uses
    name: str  # our name
    type: str
    description: str
    required: bool = True
    pii: str = "none"
    access_level: int = 1
    codes: dict[str, str] | None = None
    max_length: int | None = None
    pattern: str | None = None
    min: float | None = None
    max: float | None = None
    unit: str | None = None
    not_future: bool = False


@dataclass(frozen=True)
class Contract:
    department: str
    version: str
    name: str
    code: str
    contact: str
    entity: str
    entity_name: str
    delivery: dict
    keys: tuple[str, ...]
    fields: tuple[Field, ...]
    effective_from: str = ""
    correction_field: str | None = None
    extra: dict = field(default_factory=dict)

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    @property
    def source_columns(self) -> list[str]:
        return [f.source for f in self.fields]


def _parse(doc: dict) -> Contract:
    fields = []
    for raw in doc["fields"]:
        f = Field(**raw)
        if f.type not in FIELD_TYPES:
            raise ValueError(f"{doc['department']}: unknown field type {f.type}")
        if f.pii not in PII_CLASSES:
            raise ValueError(f"{doc['department']}: unknown PII class {f.pii}")
        fields.append(f)
    names = {f.name for f in fields}
    missing = set(doc["keys"]) - names
    if missing:
        raise ValueError(f"{doc['department']}: keys {missing} are not fields")
    known = {"department", "version", "name", "code", "contact", "entity", "entity_name", "delivery", "keys",
             "fields", "effective_from", "correction_field"}
    return Contract(
        department=doc["department"], version=str(doc["version"]), name=doc["name"], code=doc["code"],
        contact=doc["contact"], entity=doc["entity"], entity_name=doc["entity_name"], delivery=doc["delivery"],
        keys=tuple(doc["keys"]), fields=tuple(fields), effective_from=str(doc.get("effective_from", "")),
        correction_field=doc.get("correction_field"), extra={k: v for k, v in doc.items() if k not in known},
    )


@cache
def all_contracts() -> dict[tuple[str, str], Contract]:
    root = resources.files("schemas") / "contracts"
    out = {}
    for dept_dir in sorted(root.iterdir(), key=lambda p: p.name):
        if not dept_dir.is_dir():
            continue
        for f in sorted(dept_dir.iterdir(), key=lambda p: p.name):
            if f.name.startswith("v") and f.name.endswith(".yaml"):
                c = _parse(yaml.safe_load(f.read_text("utf-8")))
                if c.department != dept_dir.name or f.name != f"v{c.version}.yaml":
                    raise ValueError(f"contract file {dept_dir.name}/{f.name} declares {c.department} v{c.version}")
                out[(c.department, c.version)] = c
    return out


def get(department: str, version: str) -> Contract:
    try:
        return all_contracts()[(department, str(version))]
    except KeyError:
        raise UnknownContract(department, str(version)) from None


def versions(department: str) -> list[str]:
    return sorted(v for d, v in all_contracts() if d == department)


def latest(department: str) -> Contract:
    vs = versions(department)
    if not vs:
        raise UnknownContract(department, "latest")
    return get(department, vs[-1])
