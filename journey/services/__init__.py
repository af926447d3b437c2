"""Domain services: keyword-only functions over the database, Kafka and Temporal, with no HTTP
or worker code. The API routes, the Kafka ingest and the activities call them."""
