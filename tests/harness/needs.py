"""Skips that name what the environment lacks, so a run can refuse them.

A test that cannot run without something the machine may lack (a PostgreSQL server, an IPv6
loopback, a hosts-file name for a loopback address, the openssl CLI) skips with `needs(...)`,
whose reason starts `[needs <resource>]`. `JOURNEY_TEST_REQUIRE` (comma-separated resources;
`.ci/run` sets it to what CI provides) turns such a skip into a failure of the whole run, so
CI can never pass by quietly skipping the tests it exists to run (tests/conftest.py).
"""

from __future__ import annotations

import os
import re

REQUIRE_ENV = "JOURNEY_TEST_REQUIRE"
RESOURCES = frozenset({"postgres", "ipv6", "hosts-name", "openssl"})
_NEEDS = re.compile(r"\[needs ([a-z0-9-]+)\]")


def needs(resource: str, why: str) -> str:
    """The skip reason of a test that cannot run without `resource`."""
    if resource not in RESOURCES:
        raise ValueError(f"unknown test resource {resource!r} (one of {sorted(RESOURCES)})")
    return f"[needs {resource}] {why}"


def needed_resource(reason: str) -> str | None:
    found = _NEEDS.search(reason)
    return found.group(1) if found else None


def required_resources() -> frozenset[str]:
    """The resources this run must have (JOURNEY_TEST_REQUIRE); unknown names are refused."""
    names = {n.strip() for n in os.environ.get(REQUIRE_ENV, "").split(",") if n.strip()}
    if unknown := names - RESOURCES:
        raise ValueError(f"{REQUIRE_ENV} names unknown resources: {sorted(unknown)}")
    return frozenset(names)
