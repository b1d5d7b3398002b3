"""Running a dataflow: what it needs, sized before it starts (memory and
CPU, :mod:`pynomaly.runtime.plan`), the runner and its local cluster of
processes, start checks (preflight, path sandbox), status lines, lifecycle
and metric hooks, garbage-collector tuning. Callers import from the defining
modules."""
