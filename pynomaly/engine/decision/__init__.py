"""From scores to decisions: calibration (conformal, SPOT, none), thresholds,
drift monitors, and their banked forms (one row of arrays per key) used by
the banked detect path. Callers import from the defining modules."""
