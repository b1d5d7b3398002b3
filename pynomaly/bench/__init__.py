"""Benchmarks that ship with the package (``pynomaly bench e2e``)."""
