"""Documentation that must stay in step with the code."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_adr_index_is_current() -> None:
    spec = importlib.util.spec_from_file_location("adr_index", ROOT / "scripts" / "adr_index.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    written = (ROOT / "docs" / "adr" / "README.md").read_text()
    assert written == module.index(), "run: python scripts/adr_index.py"
    for path in (ROOT / "docs" / "adr").glob("[0-9]*.md"):
        assert f"]({path.name})" in written, path.name
