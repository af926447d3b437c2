"""Infrastructure: settings, database, Kafka, the Temporal client, telemetry, the effect ledger
and the embedded servers. Imports `journey.contracts` and `dsl`, nothing above."""
