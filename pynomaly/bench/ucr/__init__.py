"""UCR Time Series Anomaly Archive tooling: archive reader, the location rules, harness.

Each archive series holds one labelled anomaly; a detector's answer is the
location of its highest score after the training part. Callers import from the
defining modules (:mod:`pynomaly.ucr.archive`, :mod:`pynomaly.ucr.rules`,
:mod:`pynomaly.ucr.harness`).
"""
