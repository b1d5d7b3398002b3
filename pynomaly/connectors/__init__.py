"""Bytewax sources and sinks: Kafka, files, Redis, webhooks, the live view."""
