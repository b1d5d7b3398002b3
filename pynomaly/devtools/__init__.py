"""Development tools that are not part of a flow: the embedded Kafka-protocol
broker (:mod:`pynomaly.devtools.broker`) and the synthetic metric generator
(:mod:`pynomaly.devtools.generator` and its anomalies, malformed records and
sinks) behind ``pynomaly broker``, ``pynomaly produce`` and ``pynomaly demo``."""
