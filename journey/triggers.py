"""Trigger rows and the rules they hold: conversions shared by the gateway and the consumer."""

from __future__ import annotations

from typing import Any

from dsl.triggers import TriggerRule
from journey.db.models import Trigger


def rule_of(row: Trigger) -> TriggerRule:
    """The validated rule a stored trigger holds (rows are only written from valid rules)."""
    fields: dict[str, Any] = {
        "event_type": row.event_type,
        "conditions": row.conditions or None,
        "dedupe_key": row.dedupe_key,
        "reentry": row.reentry,
        "reentry_period": row.reentry_period,
        "user_id_path": row.user_id_path,
        "create_profile": row.create_profile,
    }
    return TriggerRule.model_validate(fields)


def rule_columns(rule: TriggerRule) -> dict[str, Any]:
    """The columns of a trigger row that store `rule` (conditions {} = none)."""
    stored = rule.model_dump(mode="json", by_alias=True)
    # As written: a dump with defaults would add `value: null` to unary leaves.
    conditions = rule.conditions
    stored["conditions"] = (
        conditions.model_dump(mode="json", by_alias=True, exclude_unset=True) if conditions else {}
    )
    return stored
