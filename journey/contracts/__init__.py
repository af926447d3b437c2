"""Pure pydantic contracts shared by workflows, activities, services and the API.

Nothing here does I/O or imports the rest of `journey`: workflows import these modules inside
the Temporal sandbox (workflows/ may import `journey.contracts` and nothing else of journey)."""
