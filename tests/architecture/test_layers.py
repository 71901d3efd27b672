"""Layers import downward only (checked by import-linter, contracts in pyproject.toml)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_import_contracts_hold():
    lint = Path(sys.executable).parent / "lint-imports"
    proc = subprocess.run([str(lint)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "0 broken" in proc.stdout


def test_tests_live_outside_the_packages():
    for pkg in ("jiuzhu", "schemas", "exchange", "pipelines", "models", "dashboards", "verification"):
        assert not list((ROOT / pkg).rglob("test_*.py")), pkg
