"""Name → detector class registry, with pydantic-validated parameters.

>>> from pynomaly.engine.registry import create_detector, list_detectors
>>> det = create_detector("robust_zscore")
>>> det.name
'robust_zscore'
>>> create_detector("robust_zscore", alpha=2.0)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
pydantic_core._pydantic_core.ValidationError: 1 validation error for RobustZScoreParams
...
"""

from __future__ import annotations

import difflib
import importlib
import pickle
import pkgutil
from typing import Any

from pynomaly.engine.base import Detector

_REGISTRY: dict[str, type[Detector]] = {}

#: Optional third-party packages: a detector module that needs one of these is
#: skipped (not registered) when the package is not installed.
OPTIONAL_PACKAGES = ("torch",)
_loaded = False


def register(cls: type[Detector]) -> type[Detector]:
    """Class decorator adding a detector to the registry under ``cls.name``."""
    if not cls.name:
        raise ValueError(f"{cls.__qualname__} has no registry name")
    existing = _REGISTRY.get(cls.name)
    if existing is not None and existing is not cls and existing.__qualname__ != cls.__qualname__:
        raise ValueError(f"detector name {cls.name!r} already registered by {existing!r}")
    _REGISTRY[cls.name] = cls
    return cls


def _load_all() -> None:
    """Import every module of ``pynomaly.engine.detectors`` once (lazily)."""
    global _loaded
    if _loaded:
        return
    import pynomaly.engine.detectors as pkg

    importlib.import_module("pynomaly.engine.ensemble")  # registers "ensemble"
    for info in pkgutil.iter_modules(pkg.__path__):
        try:
            importlib.import_module(f"{pkg.__name__}.{info.name}")
        except ModuleNotFoundError as exc:
            if exc.name not in OPTIONAL_PACKAGES:
                raise
    _loaded = True


def list_detectors() -> list[str]:
    """Sorted names of every registered detector."""
    _load_all()
    return sorted(_REGISTRY)


def _load_named(name: str) -> None:
    """Import ``pynomaly.engine.detectors.<name>`` when such a module exists:
    the cheap path for detectors whose module is named after them, which keeps
    heavy optional libraries (PyOD, torch) out of flows that do not use them."""
    if name.isidentifier() and not name.startswith("_"):
        try:
            importlib.import_module(f"pynomaly.engine.detectors.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"pynomaly.engine.detectors.{name}" and exc.name not in OPTIONAL_PACKAGES:
                raise


def detector_class(name: str) -> type[Detector]:
    """The class registered under ``name``; ``KeyError`` with the known names."""
    if name not in _REGISTRY:
        _load_named(name)
    if name not in _REGISTRY:
        _load_all()
    try:
        return _REGISTRY[name]
    except KeyError:
        close = difflib.get_close_matches(str(name), list(_REGISTRY), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise KeyError(
            f"unknown detector {name!r}{hint}; known: {', '.join(sorted(_REGISTRY))}"
        ) from None


def create_detector(name: str, **params: Any) -> Detector:
    """Build detector ``name`` with validated ``params``."""
    return detector_class(name)(**params)


def restore_detector(blob: bytes) -> Detector:
    """Rebuild any detector from its ``snapshot()`` bytes."""
    name = pickle.loads(blob)["detector"]
    return detector_class(name).restore(blob)
