"""Segments: named audiences of users, defined by the shared condition language over `user.*`.

A segment is evaluated in the database: `sql` compiles its condition to one SQLAlchemy boolean
over the `users` table (PostgreSQL JSONB or SQLite JSON1) with exactly the semantics of
`dsl.conditions.evaluate` on the profile `profile.segment_profile` builds. `service` holds the
data functions of `/api/segments`, `refresh` keeps `user_segment_memberships` current and emits
`segment.entered` / `segment.exited` events, and `jobs` registers that refresh as a Schedule.
"""
