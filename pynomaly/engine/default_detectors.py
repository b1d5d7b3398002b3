"""Which detector a flow gets when its spec names none.

Records with one value field keep the pipeline's own default
(:class:`~pynomaly.engine.pipeline.PipelineConfig`). Records with several
value fields (a host's CPU, memory, disk and network at once) get
``metric_deviation``: per-metric standardisation, the mean of the top few
deviations, smoothed over recent events (see docs/adr/0024).

>>> default_detector_for(1) is None
True
>>> default_detector_for(38)
'metric_deviation'
"""

from __future__ import annotations

#: The detector of records with more than one value field.
MULTIVARIATE_DEFAULT = "metric_deviation"


def default_detector_for(n_value_fields: int) -> str | None:
    """The default detector name for records of ``n_value_fields`` values (None: the pipeline's)."""
    return MULTIVARIATE_DEFAULT if n_value_fields > 1 else None
