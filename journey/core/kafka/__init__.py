"""Kafka clients: admin, producers and JSON messages (`clients`), the self-healing producer
(`producers`)."""
