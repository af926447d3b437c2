"""Alembic scripts; a package only so that non-editable installs ship them."""
