"""The journey DSL: pure pydantic models and helpers, no I/O.

Nothing is imported here on purpose: the deterministic Temporal workflow imports
`dsl.document`, `dsl.conditions` and `dsl.nodes` and must not pull in jinja2, which only
`dsl.validation` (and `dsl.templates`) use.
"""
