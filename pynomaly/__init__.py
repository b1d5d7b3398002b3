"""Pynomaly: real-time streaming anomaly detection on Bytewax."""

__version__ = "0.1.0"
