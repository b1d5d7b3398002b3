"""The Server Machine Dataset (SMD) benchmark: corpus reading, scoring, harness."""
