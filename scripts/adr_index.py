"""Write docs/adr/README.md: the index of architecture decision records.

Each record's title is its first heading; its status is the first line that
starts with ``Status:``, and every record needs one: ``accepted``,
``deprecated`` or ``superseded by [NNNN](NNNN-....md)``, optionally followed by
``;`` and what it keeps or loses (``accepted; its origin rule superseded by
[0074](...)``). A record naming a superseding record that does not exist is an
error too. Run it after adding or changing a record; ``tests/test_docs.py``
checks the index is current.

    python scripts/adr_index.py
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ADR = Path(__file__).resolve().parent.parent / "docs" / "adr"

AREAS = {
    "000": "Dataflow and operations",
    "001": "Detectors",
    "002": "Projection, seasonal and multivariate detectors",
    "003": "Decision: calibration, thresholds, drift, ensembles, alert fatigue",
    "004": "Adapters and drop-in APIs",
    "005": "Benchmarks and the default detectors they chose",
    "006": "Development broker and data generator",
    "007": "Dashboard",
    "008": "Delivery and reliability",
    "009": "Speed",
    "010": "Alerts",
}

HEADER = """# Architecture decision records

One short file per decision: context, decision, consequences. Numbers go by
area, a decade each (0001–0009 dataflow, 001x detectors, 002x projection and
subsequence detectors, 003x the decision layer, 004x adapters, 005x
benchmarks and the defaults they chose, 006x development tools, 007x the
dashboard, 008x delivery and reliability, 009x speed, 010x alerts). A record
is never rewritten to say something else: a later one supersedes it, and its
status line says so.

This index is written by `python scripts/adr_index.py` (a test checks it is
current).
"""


#: The status kinds a record may have (the start of its status line).
STATUS = re.compile(r"(accepted|deprecated|superseded by \[(\d{4})\]\((\d{4})-[^)]+\.md\))")
#: Records named as superseding, anywhere in a status line.
SUPERSEDED_BY = re.compile(r"superseded by \[(\d{4})\]\(([^)]+)\)")


class RecordError(ValueError):
    """A record without a status line, with an unknown status, or superseded by a missing record."""


def records() -> list[tuple[str, str, str, str]]:
    out = []
    paths = sorted(ADR.glob("[0-9][0-9][0-9][0-9]-*.md"))
    names = {path.name for path in paths}
    for path in paths:
        text = path.read_text()
        title = text.splitlines()[0].lstrip("# ").strip()
        title = re.sub(r"^\d{4}\s*[—-]\s*", "", title)
        m = re.search(r"(?im)^\**status:?\**:?\s*(.+)$", text)
        if m is None:
            raise RecordError(f"{path.name}: no 'Status:' line")
        status = m.group(1).strip()
        status = re.split(r"(?<=[a-z0-9)])\. ", re.sub(r"\s+", " ", status))[0].rstrip(".")
        kind = STATUS.match(status)
        if kind is None or (kind.group(2) is not None and kind.group(2) != kind.group(3)):
            raise RecordError(f"{path.name}: status {status!r} is not accepted, deprecated "
                              "or superseded by [NNNN](NNNN-....md)")
        for number, target in SUPERSEDED_BY.findall(status):
            if target not in names or not target.startswith(number):
                raise RecordError(f"{path.name}: superseded by {target}, which is not a record")
        out.append((path.name[:4], path.name, title, status))
    return out


def index() -> str:
    lines = [HEADER]
    area = None
    for number, name, title, status in records():
        decade = number[:3]
        if decade != area:
            area = decade
            lines.append(f"\n## {AREAS.get(decade, 'Other')}\n\n| ADR | decision | status |\n|---|---|---|")
        lines.append(f"| [{number}]({name}) | {title} | {status} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    target = ADR / "README.md"
    target.write_text(index())
    print(f"wrote {target} ({len(records())} records)", file=sys.stderr)
