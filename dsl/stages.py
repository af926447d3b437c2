"""The five lifecycle stages (AARRR) a user can be in.

Kept here, free of SQLAlchemy, because the journey DSL validates stage names too; the database
layer imports the same tuple for its CHECK constraints so the two can never disagree.
"""

from __future__ import annotations

from enum import StrEnum


class LifecycleStage(StrEnum):
    ACQUISITION = "Acquisition"
    ACTIVATION = "Activation"
    RETENTION = "Retention"
    REVENUE = "Revenue"
    REFERRAL = "Referral"


LIFECYCLE_STAGES: tuple[str, ...] = tuple(stage.value for stage in LifecycleStage)
