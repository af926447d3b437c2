"""The Temporal client with its payload codec, and the Schedules Journey keeps."""
