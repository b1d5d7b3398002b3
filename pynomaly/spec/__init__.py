"""The declarative flow spec (:mod:`pynomaly.spec.model`) and the messages
that point at a bad field (:mod:`pynomaly.spec.errors`).

>>> from pynomaly.spec import FlowSpec, parse_spec
>>> parse_spec({"name": "cpu", "source": {"type": "file", "path": "m.jsonl"},
...             "record": {"value_fields": ["cpu"]}}).detection.detector.name
'robust_zscore'
"""

from pynomaly.spec.model import (
    AlertPolicySpec,
    DashboardSinkSpec,
    DeadLetterSpec,
    DetectionSpec,
    FeedbackSpec,
    FileSourceSpec,
    FlowSpec,
    IncidentsSpec,
    JsonlSinkSpec,
    KafkaSinkSpec,
    KafkaSourceSpec,
    KeysSpec,
    RecordSpec,
    RedisSinkSpec,
    SinkSpec,
    SourceSpec,
    SpecError,
    StdoutSinkSpec,
    VerdictSourceSpec,
    WebhookSinkSpec,
    WindowSpec,
    load_spec,
    parse_spec,
)

__all__ = [
    "AlertPolicySpec",
    "DashboardSinkSpec",
    "DeadLetterSpec",
    "DetectionSpec",
    "FeedbackSpec",
    "FileSourceSpec",
    "FlowSpec",
    "IncidentsSpec",
    "JsonlSinkSpec",
    "KafkaSinkSpec",
    "KafkaSourceSpec",
    "KeysSpec",
    "RecordSpec",
    "RedisSinkSpec",
    "SinkSpec",
    "SourceSpec",
    "SpecError",
    "StdoutSinkSpec",
    "VerdictSourceSpec",
    "WebhookSinkSpec",
    "WindowSpec",
    "load_spec",
    "parse_spec",
]
