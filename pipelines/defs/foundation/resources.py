from __future__ import annotations

from pathlib import Path

import dagster as dg

from jiuzhu import settings


class PlatformPaths(dg.ConfigurableResource):
    """Where the lake and the synthetic province live (defaults from the environment)."""

    home: str = ""
    scale: str = ""
    seed: int = 0

    def resolved(self) -> settings.Settings:
        base = settings.load()
        return settings.Settings(
            home=Path(self.home) if self.home else base.home,
            scale=self.scale or base.scale,
            seed=self.seed or base.seed,
        )
