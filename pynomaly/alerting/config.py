"""Spec sections of the alert decision: rules, severity, baseline and missing
data (under ``alerts:`` in a flow spec), and labels (under ``record:``).

>>> from pynomaly.alerting.config import AlertContentSpec, LabelsSpec
>>> c = AlertContentSpec()
>>> c.rules.min_sigma, c.missing_data.multiple, LabelsSpec().include
(5.0, 5.0, None)
>>> c.rules.for_field("cpu").direction
'both'
>>> AlertContentSpec.model_validate({"rules": {"fields": {"cpu": {"direction": "up"}}}}
...     ).rules.for_field("cpu").direction
'up'
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from pynomaly.alerting.control import ControlTopicSpec
from pynomaly.alerting.maintenance import MaintenanceWindowSpec


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LabelsSpec(_Section):
    """Record fields carried through to alerts as ``labels``.

    ``include`` unset: every field that is neither the key, the time nor a
    value field (scalars only), up to ``max_fields`` in record order. A list:
    only those fields (an allow-list). ``[]`` turns labels off.
    """

    include: list[str] | None = None
    max_fields: int = Field(16, ge=0, le=256)
    #: longer string values are cut to this many characters
    max_value_chars: int = Field(256, ge=1, le=65_536)


class FieldRule(_Section):
    """When a flagged value may alert; every condition must hold."""

    #: at least this many spreads (robust sigma of the baseline) from ``expected``
    min_sigma: float = Field(5.0, ge=0)
    #: at least this absolute distance from ``expected`` (0: no condition)
    min_deviation: float = Field(0.0, ge=0)
    #: at least this fraction of ``|expected|`` away from it (0: no condition)
    min_relative_deviation: float = Field(0.0, ge=0)
    #: only deviations in this direction alert
    direction: Literal["both", "up", "down"] = "both"
    #: the conditions above must hold this many records in a row (trigger window)
    consecutive: int = Field(1, ge=1, le=10_000)


class RulesSpec(FieldRule):
    """Suppression rules: the defaults for every value field, and ``fields``
    overriding them per field (a field's rule replaces the defaults whole)."""

    fields: dict[str, FieldRule] = Field(default_factory=dict)

    def for_field(self, name: str) -> FieldRule:
        rule = self.fields.get(name)
        if rule is not None:
            return rule
        return FieldRule(**self.model_dump(exclude={"fields"}))


class SeveritySpec(_Section):
    """``critical`` if either measure reaches its critical level, else
    ``warning`` if either reaches its warning level, else ``info``."""

    warning_sigma: float = Field(8.0, gt=0)
    critical_sigma: float = Field(15.0, gt=0)
    warning_probability: float = Field(0.9999, gt=0, le=1)
    critical_probability: float = Field(0.999999, gt=0, le=1)

    @model_validator(mode="after")
    def _ordered(self) -> SeveritySpec:
        if self.critical_sigma < self.warning_sigma:
            raise ValueError("critical_sigma must be at least warning_sigma")
        if self.critical_probability < self.warning_probability:
            raise ValueError("critical_probability must be at least warning_probability")
        return self


class BaselineSpec(_Section):
    """The per-key, per-field baseline behind ``expected`` and ``bounds``:
    a local level and trend (Holt) and a robust spread, learned in event
    order, winsorised so a spike does not move it."""

    level_alpha: float = Field(0.1, gt=0, le=1)
    trend_beta: float = Field(0.05, ge=0, le=1)
    spread_alpha: float = Field(0.02, gt=0, le=1)
    #: learning is winsorised at this many spreads from the expected value
    clip_sigma: float = Field(4.0, gt=0)
    #: records a key needs before its spread is trusted (no alert before)
    warmup: int = Field(30, ge=2)


class MissingDataSpec(_Section):
    """A key silent for ``multiple`` times its learned cadence (judged
    against the flow's watermark) raises one ``missing_data`` alert; its next
    record raises one ``recovery`` record."""

    enabled: bool = True
    multiple: float = Field(5.0, ge=1.5)
    #: intervals a key needs before its cadence is trusted
    min_intervals: int = Field(8, ge=2)
    #: never call a key missing before this much silence (event-time seconds)
    min_silence_s: float = Field(0.0, ge=0)
    #: what the detector learns across a gap longer than 1.5 cadences: nothing,
    #: the value before the gap repeated, or a straight line to the value after
    #: it; one record per missed cadence step, at most ``max_imputed`` per gap,
    #: learned and never alerted (flows without windows)
    imputation: Literal["none", "previous", "linear"] = "none"
    max_imputed: int = Field(64, ge=1, le=10_000)


class AlertContentSpec(_Section):
    """Everything above, as one object (the fields of ``alerts:``)."""

    rules: RulesSpec = Field(default_factory=RulesSpec)
    severity: SeveritySpec = Field(default_factory=SeveritySpec)
    baseline: BaselineSpec = Field(default_factory=BaselineSpec)
    missing_data: MissingDataSpec = Field(default_factory=MissingDataSpec)
    #: base URL of the dashboard; alerts then link to their key there
    dashboard_url: str | None = None
    #: maintenance windows (pynomaly.alerting.maintenance)
    maintenance: list[MaintenanceWindowSpec] = Field(default_factory=list)
    #: a Kafka topic that changes maintenance windows at run time
    maintenance_control: ControlTopicSpec | None = None

    @model_validator(mode="after")
    def _unique_windows(self) -> AlertContentSpec:
        names = [w.name for w in self.maintenance]
        if len(set(names)) != len(names):
            raise ValueError("maintenance window names must be unique")
        return self
