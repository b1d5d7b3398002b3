"""UCR Time Series Anomaly Archive tooling: archive reader, the location rules, harness.

Each archive series holds one labelled anomaly; a detector's answer is the
location of its highest score after the training part. Callers import from the
defining modules (:mod:`pynomaly.bench.ucr.archive`, :mod:`pynomaly.bench.ucr.rules`,
:mod:`pynomaly.bench.ucr.harness`).
"""
