"""Custom search attributes that make journey runs findable in the Temporal web UI.

They are registered on the dev server by `journey dev` and by the test harness.
"""

from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes

JOURNEY_ID = SearchAttributeKey.for_keyword("JourneyId")
JOURNEY_VERSION = SearchAttributeKey.for_keyword("JourneyVersion")
USER_ID = SearchAttributeKey.for_keyword("JourneyUserId")
CURRENT_NODE = SearchAttributeKey.for_keyword("JourneyCurrentNode")
LIFECYCLE_STAGE = SearchAttributeKey.for_keyword("JourneyLifecycleStage")

ALL = (JOURNEY_ID, JOURNEY_VERSION, USER_ID, CURRENT_NODE, LIFECYCLE_STAGE)
# The attributes a run updates as it goes, by name.
BY_NAME = {key.name: key for key in (CURRENT_NODE, LIFECYCLE_STAGE)}


def dev_server_flags() -> list[str]:
    """`--search-attribute NAME=Keyword` flags for `temporal server start-dev`."""
    flags: list[str] = []
    for key in ALL:
        flags += ["--search-attribute", f"{key.name}=Keyword"]
    return flags


def start_attributes(journey_id: str, version: str, user_id: str) -> TypedSearchAttributes:
    """What a starter sets on a journey run. The run keeps CURRENT_NODE and LIFECYCLE_STAGE
    current only when it was started with these, i.e. when the server has them registered."""
    return TypedSearchAttributes(
        [
            SearchAttributePair(JOURNEY_ID, journey_id),
            SearchAttributePair(JOURNEY_VERSION, version),
            SearchAttributePair(USER_ID, user_id),
        ]
    )
