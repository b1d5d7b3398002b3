"""Documentation that must stay in step with the code."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _adr_index() -> ModuleType:
    spec = importlib.util.spec_from_file_location("adr_index", ROOT / "scripts" / "adr_index.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_adr_index_is_current() -> None:
    module = _adr_index()
    written = (ROOT / "docs" / "adr" / "README.md").read_text()
    assert written == module.index(), "run: python scripts/adr_index.py"
    for path in (ROOT / "docs" / "adr").glob("[0-9]*.md"):
        assert f"]({path.name})" in written, path.name


def test_every_adr_has_a_status_and_superseding_records_exist() -> None:
    statuses = {name: status for _, name, _, status in _adr_index().records()}
    assert statuses["0034-keyed-pipeline-bank.md"].startswith("superseded by [0090]")
    assert all(s.startswith(("accepted", "deprecated", "superseded by")) for s in statuses.values())


@pytest.mark.parametrize(("status", "error"), [
    (None, "no 'Status:' line"),
    ("Status: proposed", "is not accepted, deprecated"),
    ("Status: superseded by [0002](0003-b.md)", "is not accepted, deprecated"),
    ("Status: superseded by [0009](0009-gone.md)", "which is not a record"),
    ("Status: accepted; its limits superseded by [0009](0009-gone.md)", "which is not a record"),
])
def test_adr_index_refuses_a_bad_status(tmp_path: Path, status: str | None, error: str) -> None:
    module = _adr_index()
    module.ADR = tmp_path
    (tmp_path / "0002-b.md").write_text("# 0002 — B\n\nStatus: accepted\n")
    (tmp_path / "0003-b.md").write_text("# 0003 — B\n\nStatus: deprecated\n")
    (tmp_path / "0001-a.md").write_text("# 0001 — A\n\n" + (status or "") + "\n\n## Context\n")
    with pytest.raises(module.RecordError, match=error):
        module.records()
    (tmp_path / "0001-a.md").write_text("# 0001 — A\n\nStatus: superseded by [0002](0002-b.md)\n")
    assert [r[3] for r in module.records()] == [
        "superseded by [0002](0002-b.md)", "accepted", "deprecated"]
