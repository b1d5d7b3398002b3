"""Operations: Prometheus metrics, health probes, tracing, logs, shutdown."""
