"""One module per benchmark scenario, each exposing `SCENARIO` (see bench/registry.py)."""
