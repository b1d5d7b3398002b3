"""Detector choices of the benchmark harnesses (NAB, UCR, SMD): ``default``, ``name``,
``name:k=v,...``, or a JSON/YAML mapping, to a detector name and its parameters.

Example
-------
>>> parse_detector_choice("robust_zscore:alpha=0.01,warmup=50")
('robust_zscore', {'alpha': 0.01, 'warmup': 50})
>>> parse_detector_choice('{"name": "robust_zscore", "params": {"alpha": 0.05}}')
('robust_zscore', {'alpha': 0.05})
>>> parse_detector_choice("default")[0]
'shape_ensemble'
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

#: The detector ``--detector default`` resolves to (docs/adr/0057).
DEFAULT_DETECTOR = "shape_ensemble"


def _scalar(text: str) -> Any:
    value = yaml.safe_load(text)
    return (
        value if isinstance(value, (int, float, bool, str, list, dict)) or value is None else text
    )


def parse_detector_choice(spec: str) -> tuple[str, dict[str, Any]]:
    """Detector name and parameters from a command-line spec.

    Accepts ``default``, a registry name, ``name:key=value,...``, a JSON or
    YAML mapping ``{name: ..., params: {...}}`` (or ``{name: ..., key: value}``),
    or the path of a ``.json``/``.yaml`` file holding one.
    """
    text = spec.strip()
    path = Path(text)
    if text.endswith((".json", ".yaml", ".yml")) and path.is_file():
        text = path.read_text(encoding="utf-8")
    if text.startswith("{") or "\n" in text:
        raw = yaml.safe_load(text)
        if not isinstance(raw, dict) or "name" not in raw:
            raise ValueError(f"detector spec mapping needs a 'name': {spec!r}")
        raw = dict(raw)
        name = str(raw.pop("name"))
        params = dict(raw.pop("params", {}) or {})
        params.update(raw)
    else:
        name, _, rest = text.partition(":")
        params = {}
        for item in filter(None, (p.strip() for p in rest.split(","))):
            key, eq, value = item.partition("=")
            if not eq:
                raise ValueError(f"detector parameter {item!r} is not key=value")
            params[key.strip()] = _scalar(value.strip())
    if name == "default":
        name = DEFAULT_DETECTOR
    return name, params
