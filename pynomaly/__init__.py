"""Pynomaly: real-time streaming anomaly detection on Bytewax."""

from pynomaly import _legacy

__version__ = "0.1.0"

_legacy.install()  # module names of the earlier layout (docs/adr/0102)
