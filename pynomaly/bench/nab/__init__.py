"""Numenta Anomaly Benchmark (NAB) tooling: corpus reader, scorer and harness.

The scorer implements NAB's published scoring method (label windows, scaled
sigmoid weights, probationary period, cost profiles, one corpus-wide threshold
per profile, normalisation between the null and the perfect detector). The
harness streams a NAB-format corpus through any registered detector.
Callers import from the defining modules (:mod:`pynomaly.bench.nab.corpus`,
:mod:`pynomaly.bench.nab.scorer`, :mod:`pynomaly.bench.nab.harness`).
"""
