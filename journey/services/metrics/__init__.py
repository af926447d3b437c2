"""Metrics over Journey's tables, the daily rollup into `metrics_daily`, and the maintenance
(retention purge, PostgreSQL partitions) that the scheduled jobs run.

Every report reads the database through a caller's session and returns a pydantic model that
the gateway serves as is (api/routes/metrics.py). Times are UTC; day ranges are inclusive
calendar days. The definitions are in each module's docstring and in docs/api.md ("Metrics").
"""
