"""The Kafka event consumer (`journey ingest`, also run by `journey dev`).

Events on the events topic record into `lifecycle_events`, start the journeys whose triggers
match (once per trigger, user and dedupe key, by the trigger's re-entry policy), and reach the
user's running journeys that wait for them. See consumer.py for the loop and its offset rules,
dispatcher.py for what one event does, envelopes.py and dead_letters.py for poison messages.
"""
