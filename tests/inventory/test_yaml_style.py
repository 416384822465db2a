from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_inventory_passes_yamllint() -> None:
    exe = Path(sys.executable).parent / "yamllint"
    r = subprocess.run([str(exe), "-s", "inventory/"], cwd=REPO, capture_output=True, text=True,
                       check=False)
    assert r.returncode == 0, r.stdout + r.stderr


def test_settings_doc_is_generated_from_the_declarations() -> None:
    from fleet.settings import docs_table

    doc = (REPO / "docs/settings.md").read_text(encoding="utf-8")
    assert docs_table() in doc, "regenerate: python -m fleet.settings > docs/settings.md"
