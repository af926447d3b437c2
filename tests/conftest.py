"""Registers the real-server test harness; see tests/harness/ for each server's fixtures.

Every system Journey integrates with is a real server on a free port: Temporal (dev server and
time-skipping server), a Kafka-protocol broker (tansu), SMTP (aiosmtpd), an HTTP receiver and the
databases. Plugins rather than imports so fixtures are discovered by name in every test module.
"""

pytest_plugins = [
    "tests.harness.temporal",
    "tests.harness.kafka",
    "tests.harness.smtp",
    "tests.harness.http_receiver",
    "tests.harness.database",
    "tests.harness.env",
]
