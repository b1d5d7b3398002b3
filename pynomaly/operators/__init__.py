"""Bytewax operators and the pure step functions they wrap."""
