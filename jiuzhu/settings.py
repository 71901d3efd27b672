"""Where things live, read from the environment once. Defaults keep everything under ``./var``."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    home: Path  # JIUZHU_HOME: the embedded default's working folder
    scale: str  # JIUZHU_SCALE: the province the demo runs on
    seed: int  # JIUZHU_SEED

    @property
    def lake(self) -> Path:
        """Root of the Delta Lake (bronze/, silver/, gold/, quarantine/)."""
        return Path(os.environ.get("JIUZHU_LAKE", self.home / "lake"))

    @property
    def province_dir(self) -> Path:
        """Where the synthetic province of this scale and seed is generated."""
        return self.home / "province" / f"{self.scale}-{self.seed}"

    @property
    def inbox(self) -> Path:
        return self.province_dir / "inbox"

    @property
    def warehouse(self) -> Path:
        return self.home / "warehouse.duckdb"


def load() -> Settings:
    return Settings(
        home=Path(os.environ.get("JIUZHU_HOME", "var")).absolute(),
        scale=os.environ.get("JIUZHU_SCALE", "small"),
        seed=int(os.environ.get("JIUZHU_SEED", "20241101")),
    )
