"""Operating Journey: traces (tracing.py, messages.py, temporal.py), Prometheus metrics
(metrics.py, collectors.py) and structured logs (logs.py). Nothing here is imported by
workflows/: the Temporal interceptor creates the workflow spans."""
