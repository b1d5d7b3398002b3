"""The declarative flow spec: a pydantic model, loadable from YAML or TOML.

A spec says where events come from, how records look, how they are windowed,
which detector scores them, how scores become alerts and where alerts go.
An invalid spec fails at load time with the exact path of the bad field.

Example
-------
>>> from pynomaly.spec import FlowSpec
>>> spec = FlowSpec.model_validate({
...     "name": "cpu",
...     "source": {"type": "file", "path": "metrics.jsonl"},
...     "record": {"key_field": "host", "value_fields": ["cpu"]},
...     "sinks": [{"type": "stdout"}],
... })
>>> spec.detection.detector.name
'robust_zscore'
>>> FlowSpec.model_validate({"name": "host", "source": {"type": "file", "path": "m.jsonl"},
...     "record": {"value_fields": ["cpu", "mem"]}}).detection.detector.name
'metric_deviation'
>>> FlowSpec.model_validate({"name": "x", "source": {"type": "file", "path": "a"},
...     "record": {"value_fields": []}})  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
pydantic_core._pydantic_core.ValidationError: 1 validation error for FlowSpec
record.value_fields
  List should have at least 1 item after validation, not 0 ...
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from pynomaly.alerting.config import AlertContentSpec, LabelsSpec
from pynomaly.engine.pipeline import PipelineConfig
from pynomaly.incidents.budget import BudgetConfig
from pynomaly.incidents.feedback import FeedbackConfig
from pynomaly.incidents.grouping import GroupingConfig
from pynomaly.spec.errors import Locator, describe_errors, syntax_error_line, yaml_locator


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- sources ------------------------------------------------------------------
class KafkaSourceSpec(_Spec):
    type: Literal["kafka"] = "kafka"
    bootstrap_servers: str = "127.0.0.1:9092"
    topics: list[str] = Field(min_length=1)
    #: start from the beginning of each partition when there is no recovery state
    from_beginning: bool = True
    #: keep waiting for new records at the end (False: stop at the end, for replays/tests)
    tail: bool = True
    batch_size: int = Field(5000, ge=1, le=1_000_000)
    #: longest wait for the first record when none has been fetched
    poll_timeout_s: float = Field(0.01, gt=0, le=5.0)
    #: once a batch has begun, how long it may wait to fill (a record's longest
    #: wait in the source; 0: hand over what is there at once)
    linger_s: float = Field(0.002, ge=0, le=5.0)
    config: dict[str, str] = Field(default_factory=dict, description="extra librdkafka settings")


class FileSourceSpec(_Spec):
    type: Literal["file"] = "file"
    path: str
    format: Literal["auto", "jsonl", "csv", "parquet"] = "auto"
    batch_size: int = Field(10_000, ge=1, le=1_000_000)
    #: 0 = as fast as possible; N = replay at N x event-time speed
    speed: float = Field(0.0, ge=0.0)


SourceSpec = Annotated[KafkaSourceSpec | FileSourceSpec, Field(discriminator="type")]


# -- records ------------------------------------------------------------------
class RecordSpec(_Spec):
    key_field: str = "key"
    time_field: str = "ts"
    time_format: Literal["iso", "epoch_s", "epoch_ms"] = "iso"
    value_fields: list[str] = Field(min_length=1)
    #: events further than this in the future of the wall clock are dead-lettered
    max_future_s: float = Field(86_400.0, gt=0)
    #: events older than this before the wall clock are dead-lettered (0 = no limit)
    max_age_s: float = Field(0.0, ge=0)
    #: records larger than this many bytes are dead-lettered without parsing
    max_record_bytes: int = Field(1_000_000, ge=64)
    #: record fields carried through to alerts (default: every scalar field
    #: that is neither key, time nor value, up to a limit)
    labels: LabelsSpec = Field(default_factory=LabelsSpec)

    @field_validator("value_fields")
    @classmethod
    def _unique(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError("value_fields must not repeat a field")
        return v


# -- windowing ----------------------------------------------------------------
class WindowSpec(_Spec):
    kind: Literal["none", "tumbling", "sliding"] = "none"
    size_s: float = Field(60.0, gt=0)
    #: slide for sliding windows (defaults to size/2)
    slide_s: float | None = Field(None, gt=0)
    agg: Literal["mean", "sum", "min", "max", "last", "count"] = "mean"
    #: events older than the key's newest event time minus this are late
    allowed_lateness_s: float = Field(0.0, ge=0)

    @model_validator(mode="after")
    def _check_slide(self) -> WindowSpec:
        if self.kind == "sliding":
            slide = self.slide_s or self.size_s / 2
            if slide > self.size_s:
                raise ValueError("slide_s must not exceed size_s")
            if self.size_s / slide > 64:
                raise ValueError("size_s / slide_s must be at most 64")
        return self


# -- detection and decision ----------------------------------------------------
#: detector → calibrator → threshold → drift monitors, per key; see
#: :class:`pynomaly.engine.pipeline.PipelineConfig` for every field.
DetectionSpec = PipelineConfig


class AlertPolicySpec(AlertContentSpec):
    """Cooldown and explanations, plus the alert content and decision
    (rules, severity, baseline, missing data: :mod:`pynomaly.alerting.config`)."""

    model_config = ConfigDict(extra="forbid", frozen=False)
    #: after an alert for a key, further alerts for it are suppressed this long (event time)
    cooldown_s: float = Field(300.0, ge=0)
    #: number of top contributing features in the explanation
    explain_top: int = Field(3, ge=0, le=100)


class KeysSpec(_Spec):
    #: live keys per flow worker shard set; events of new keys beyond this are dead-lettered
    max_keys: int = Field(1_000_000, ge=1)
    #: keys idle this long (event time) are evicted (0 = never)
    ttl_s: float = Field(0.0, ge=0)
    #: keys are grouped into this many shards; each shard is one unit of state
    shards: int = Field(64, ge=1, le=65_536)
    #: where a shard's state lives: "hash" (Bytewax spreads shards over all
    #: workers; any input partitioning) or "partition" (each worker keeps the
    #: shards of the records it reads, so nothing crosses between processes;
    #: needs an input topic partitioned by the entity key and one worker per
    #: process, see docs/adr/0096)
    route: Literal["hash", "partition"] = "hash"


# -- sinks --------------------------------------------------------------------
class KafkaSinkSpec(_Spec):
    type: Literal["kafka"] = "kafka"
    bootstrap_servers: str = "127.0.0.1:9092"
    topic: str
    config: dict[str, str] = Field(default_factory=dict)
    #: seconds to wait for delivery confirmation of each batch
    delivery_timeout_s: float = Field(30.0, gt=0)
    #: create the topic when the flow starts if it does not exist yet
    create_topic: bool = True
    #: partitions of a topic created at start
    partitions: int = Field(1, ge=1, le=10_000)


class JsonlSinkSpec(_Spec):
    type: Literal["jsonl"] = "jsonl"
    path: str


class StdoutSinkSpec(_Spec):
    type: Literal["stdout"] = "stdout"


class RedisSinkSpec(_Spec):
    type: Literal["redis"] = "redis"
    url: str = "redis://127.0.0.1:6379/0"
    stream: str = "pynomaly:alerts"
    maxlen: int = Field(100_000, ge=1)


class WebhookSinkSpec(_Spec):
    type: Literal["webhook"] = "webhook"
    url: str
    timeout_s: float = Field(5.0, gt=0)
    max_retries: int = Field(5, ge=0)


class DashboardSinkSpec(_Spec):
    type: Literal["dashboard"] = "dashboard"
    url: str = "ws://127.0.0.1:8765/ws/ingest"
    #: token; defaults to $PYNOMALY_INGEST_TOKEN
    token: str | None = None
    #: also publish every scored point (not only alerts)
    points: bool = True


SinkSpec = Annotated[
    KafkaSinkSpec
    | JsonlSinkSpec
    | StdoutSinkSpec
    | RedisSinkSpec
    | WebhookSinkSpec
    | DashboardSinkSpec,
    Field(discriminator="type"),
]
DeadLetterSpec = Annotated[
    KafkaSinkSpec | JsonlSinkSpec | StdoutSinkSpec, Field(discriminator="type")
]


class IncidentsSpec(GroupingConfig):
    """Alerts grouped into incidents (:mod:`pynomaly.incidents.grouping`), and
    where the incident records go (alerts keep going to ``sinks``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    sinks: list[SinkSpec] = Field(default_factory=list)


class VerdictSourceSpec(_Spec):
    """Where verdicts come from: a Kafka topic (read from its end, live) or a
    JSON-lines file."""

    type: Literal["kafka", "file"]
    bootstrap_servers: str | None = None
    topic: str | None = None
    path: str | None = None

    @model_validator(mode="after")
    def _complete(self) -> VerdictSourceSpec:
        if self.type == "kafka" and not (self.bootstrap_servers and self.topic):
            raise ValueError("a kafka verdict source needs bootstrap_servers and topic")
        if self.type == "file" and not self.path:
            raise ValueError("a file verdict source needs a path")
        return self


class FeedbackSpec(FeedbackConfig):
    """Verdicts that adapt decisions (:mod:`pynomaly.incidents.feedback`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    verdicts: VerdictSourceSpec | None = None
    adaptation_sinks: list[SinkSpec] = Field(
        default_factory=list, description="where the audit records of adaptations go")


def _stdout_sink() -> list[SinkSpec]:
    """The sinks of a spec that names none: stdout."""
    return [StdoutSinkSpec()]


class FlowSpec(_Spec):
    """A whole flow; see the module docstring."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,100}$")
    source: SourceSpec
    record: RecordSpec
    window: WindowSpec = Field(default_factory=WindowSpec)
    detection: PipelineConfig = Field(default_factory=PipelineConfig)
    alerts: AlertPolicySpec = Field(default_factory=AlertPolicySpec)
    keys: KeysSpec = Field(default_factory=KeysSpec)
    sinks: list[SinkSpec] = Field(default_factory=_stdout_sink)
    dead_letter: DeadLetterSpec | None = None
    #: alert fatigue (ADR 0035): incidents across keys, verdict feedback, a global budget
    incidents: IncidentsSpec | None = None
    feedback: FeedbackSpec | None = None
    budget: BudgetConfig | None = None

    @model_validator(mode="before")
    @classmethod
    def _default_detector_for_fields(cls, data: Any) -> Any:
        """A spec that names no detector gets the default for its number of value fields."""
        from pynomaly.engine.default_detectors import default_detector_for

        if not isinstance(data, dict) or not isinstance(data.get("record"), dict):
            return data
        fields = data["record"].get("value_fields")
        detection = data.get("detection", {})
        if not isinstance(fields, list) or not isinstance(detection, dict):
            return data
        name = default_detector_for(len(fields))
        if name is None or "detector" in detection:
            return data
        return {**data, "detection": {**detection, "detector": {"name": name}}}


class SpecError(ValueError):
    """A spec file that cannot be loaded; the message names the bad field."""


def _format_validation(path: str, exc: ValidationError, data: Any,
                       locate: Locator | None = None) -> str:
    errors = describe_errors(exc, data, FlowSpec, locate)
    return f"{path}: invalid flow spec: " + "; ".join(errors)


def parse_spec(data: dict[str, Any], origin: str = "<spec>",
               locate: Locator | None = None) -> FlowSpec:
    """Validate a spec given as a plain dict; raise :class:`SpecError`.

    ``locate`` maps a field's path to where the spec text has it (line, column),
    added to each error (see :func:`pynomaly.spec.errors.yaml_locator`)."""
    try:
        return FlowSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(_format_validation(origin, exc, data, locate)) from None


def load_spec(path: str | Path) -> FlowSpec:
    """Load a flow spec from a ``.yaml``/``.yml``/``.toml``/``.json`` file."""
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise SpecError(f"{p}: cannot read flow spec: {exc.strerror}") from None
    try:
        if p.suffix == ".toml":
            data = tomllib.loads(text)
        else:
            data = yaml.safe_load(text)
    except (yaml.YAMLError, tomllib.TOMLDecodeError) as exc:
        raise SpecError(syntax_error_line(p, exc)) from None
    if not isinstance(data, dict):
        raise SpecError(f"{p}: a flow spec must be a mapping at the top level")
    return parse_spec(data, str(p), None if p.suffix == ".toml" else yaml_locator(text))
