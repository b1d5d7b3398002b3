"""What turns a detector's flag into an alert an on-call engineer can act on:
the baseline behind ``expected`` and ``bounds``, suppression rules, severity,
carried-through labels, per-key cadence and missing data, and the alert
record (schema version 2). Callers import from the defining modules."""
