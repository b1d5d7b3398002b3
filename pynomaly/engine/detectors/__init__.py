"""Native and adapter detectors; each module registers one detector family."""
