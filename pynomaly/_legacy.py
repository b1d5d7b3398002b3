"""Module names of the earlier package layout, still importable.

The package is laid out along the flow (docs/adr/0102): ``pynomaly.operators``
became :mod:`pynomaly.dataflow`, calibration and thresholds moved to
:mod:`pynomaly.engine.decision`, the runner to :mod:`pynomaly.runtime`, and so
on (:data:`MOVED`). Code written against the earlier names
(``import pynomaly.operators as pxo``, ``from pynomaly.flow import
build_flow``) and recovery snapshots written by the earlier layout (pickle
names every class by its module, e.g.
``pynomaly.operators.detect_banked.BankedShardState``) keep working:
:class:`LegacyFinder` resolves an old name by importing the module it moved to
and registering that very module object under the old name as well, so
classes and functions are the same objects under both names.

>>> import pynomaly.operators as pxo
>>> import pynomaly.dataflow
>>> pxo is pynomaly.dataflow
True
>>> from pynomaly.engine.calibration_conformal import ConformalParams
>>> ConformalParams.__module__
'pynomaly.engine.decision.calibration_conformal'

A ``pynomaly`` module that is neither in this release nor one it moved (a
snapshot written by another release can name one) is refused with what to
do (:class:`MissingModuleFinder`).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
from collections.abc import Sequence
from types import ModuleType

_DECISION = ("calibration", "calibration_conformal", "calibration_none", "calibration_spot",
             "thresholds", "drift", "drift_kernels", "banked_calibration", "banked_decide")
_RUNTIME = ("runner", "local_cluster", "lifecycle", "gc_tuning", "preflight", "run_status",
            "metrics_hooks", "sandbox")
_OPERATORS = ("alert_record", "detect", "detect_banked", "detect_op", "detect_options",
              "instrumented", "json_scan", "parse", "parse_arrow", "parse_op", "record_rows",
              "routing", "score_records", "sinks_op", "triage_op", "window_op", "windowing")

#: old module name → the module it is now
MOVED: dict[str, str] = {
    "pynomaly.operators": "pynomaly.dataflow",
    **{f"pynomaly.operators.{m}": f"pynomaly.dataflow.{m}" for m in _OPERATORS},
    "pynomaly.flow": "pynomaly.dataflow.flow",
    "pynomaly.records": "pynomaly.dataflow.records",
    "pynomaly.arrow_rows": "pynomaly.dataflow.arrow_rows",
    **{f"pynomaly.engine.{m}": f"pynomaly.engine.decision.{m}" for m in _DECISION},
    "pynomaly.spec_errors": "pynomaly.spec.errors",
    **{f"pynomaly.{m}": f"pynomaly.runtime.{m}" for m in _RUNTIME},
    "pynomaly.connectors.broker": "pynomaly.devtools.broker",
    "pynomaly.connectors.generator": "pynomaly.devtools.generator",
    "pynomaly.connectors.generator_anomalies": "pynomaly.devtools.generator_anomalies",
    "pynomaly.connectors.generator_malformed": "pynomaly.devtools.generator_malformed",
    "pynomaly.connectors.generator_sinks": "pynomaly.devtools.generator_sinks",
    "pynomaly.nab": "pynomaly.bench.nab",
    "pynomaly.nab.corpus": "pynomaly.bench.nab.corpus",
    "pynomaly.nab.harness": "pynomaly.bench.nab.harness",
    "pynomaly.nab.scorer": "pynomaly.bench.nab.scorer",
    "pynomaly.nab.spec": "pynomaly.bench.detector_choice",
    "pynomaly.ucr": "pynomaly.bench.ucr",
    "pynomaly.ucr.archive": "pynomaly.bench.ucr.archive",
    "pynomaly.ucr.harness": "pynomaly.bench.ucr.harness",
    "pynomaly.ucr.rules": "pynomaly.bench.ucr.rules",
    "pynomaly.smd": "pynomaly.bench.smd",
    "pynomaly.smd.corpus": "pynomaly.bench.smd.corpus",
    "pynomaly.smd.harness": "pynomaly.bench.smd.harness",
    "pynomaly.smd.peers": "pynomaly.bench.smd.peers",
    "pynomaly.smd.scoring": "pynomaly.bench.smd.scoring",
    "pynomaly.cli._detector_peers": "pynomaly.bench.detector_peers",
    "pynomaly.cli._river_api_bench": "pynomaly.bench.river_api",
    "pynomaly.cli._subsequence_bench": "pynomaly.bench.subsequence",
}

#: old module name → {old attribute name: its name now}, for names that
#: changed with the move (set on the module when it is imported by its old name)
RENAMED: dict[str, dict[str, str]] = {
    "pynomaly.nab.spec": {"parse_spec": "parse_detector_choice"},
}

#: packages moved whole: a submodule not listed in :data:`MOVED` moved with them
_PACKAGES = {old: new for old, new in MOVED.items()
             if old in ("pynomaly.operators", "pynomaly.nab", "pynomaly.ucr", "pynomaly.smd")}


def new_name(old: str) -> str | None:
    """The module an old module name now is (None: it did not move).

    >>> new_name("pynomaly.flow"), new_name("pynomaly.engine.registry")
    ('pynomaly.dataflow.flow', None)
    """
    if old in MOVED:
        return MOVED[old]
    for package, target in _PACKAGES.items():
        if old.startswith(package + "."):
            return target + old[len(package):]
    return None


class _KeepsOwnNames(ModuleType):
    """A package whose attributes an old submodule name must not replace.

    The import system sets every imported submodule on its parent package;
    for an old name the parent is the new package, where the name can be
    taken by something else: ``pynomaly.operators.detect`` (the step logic
    module) would replace the operator ``pynomaly.dataflow.detect``. The
    package's own attribute stays; the module is ``sys.modules[name]``.
    """

    def __setattr__(self, name: str, value: object) -> None:
        own = self.__dict__.get(name)
        if isinstance(value, ModuleType) and own is not None and not isinstance(own, ModuleType):
            return
        super().__setattr__(name, value)


class _AliasLoader(importlib.abc.Loader):
    """Loads an old name as the module it moved to (the same object)."""

    def __init__(self, old: str, new: str) -> None:
        self.old = old
        self.new = new
        self._spec: importlib.machinery.ModuleSpec | None = None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        module = importlib.import_module(self.new)
        self._spec = module.__spec__
        return module

    def exec_module(self, module: ModuleType) -> None:
        # the import system set the old name's spec on the module: give it back its own
        module.__spec__ = self._spec
        parent_name, _, child = self.old.rpartition(".")
        parent = sys.modules.get(parent_name)
        own = getattr(parent, "__dict__", {}).get(child)
        if (parent is not None and type(parent) is ModuleType and own is not None
                and not isinstance(own, ModuleType)):
            parent.__class__ = _KeepsOwnNames  # set on it next, by the import system
        for old, new in RENAMED.get(self.old, {}).items():
            setattr(module, old, getattr(module, new))


class LegacyFinder(importlib.abc.MetaPathFinder):
    """Finds old module names (:data:`MOVED`); first on ``sys.meta_path``."""

    def find_spec(self, fullname: str, path: Sequence[str] | None = None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        new = new_name(fullname)
        if new is None:
            return None
        if fullname not in MOVED:  # under a package moved whole: only if it is there
            try:
                if importlib.util.find_spec(new) is None:
                    return None
            except ModuleNotFoundError:
                return None
        return importlib.machinery.ModuleSpec(fullname, _AliasLoader(fullname, new))


def missing_module_message(name: str) -> str:
    """What to say about a ``pynomaly`` module this release does not have."""
    from pynomaly import __version__

    return (f"No module named {name!r}: pynomaly {__version__} has no such module, and it is "
            "not one of the modules this release moved (pynomaly/_legacy.py). A recovery "
            "snapshot that names it was written by another release: start the flow from an "
            "empty recovery directory, or resume it with the release that wrote the snapshot")


class MissingModuleFinder(importlib.abc.MetaPathFinder):
    """Last on ``sys.meta_path``: a ``pynomaly`` module that no finder found
    is refused with :func:`missing_module_message`."""

    def find_spec(self, fullname: str, path: Sequence[str] | None = None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if fullname.startswith("pynomaly.") and not fullname.rpartition(".")[2].startswith("__"):
            raise ModuleNotFoundError(missing_module_message(fullname), name=fullname)
        return None


def install() -> None:
    """Put the finders on ``sys.meta_path`` (once)."""
    if not any(isinstance(f, LegacyFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, LegacyFinder())
    if not any(isinstance(f, MissingModuleFinder) for f in sys.meta_path):
        sys.meta_path.append(MissingModuleFinder())


def unreadable_snapshot(what: str, cause: BaseException | str) -> ValueError:
    """The error for a recovery snapshot of ``what`` that cannot be read.

    >>> str(unreadable_snapshot("a detect shard", "bad bytes"))[:63]
    'recovery snapshot of a detect shard cannot be read: bad bytes; '
    """
    from pynomaly import __version__

    if isinstance(cause, ModuleNotFoundError) and cause.name:
        text = f"it names module {cause.name!r}, which pynomaly {__version__} does not have"
    elif isinstance(cause, BaseException):
        text = f"{type(cause).__name__}: {cause}"
    else:
        text = cause
    return ValueError(f"recovery snapshot of {what} cannot be read: {text}; start the flow "
                      "from an empty recovery directory, or resume it with the release that "
                      "wrote the snapshot")
