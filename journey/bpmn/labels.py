"""The label a modeler shows for a node that has no name of its own.

Export writes it so a diagram is readable; import reads a name equal to it as "no name", so a
journey makes the round trip unchanged. (A node deliberately named exactly its label loses
nothing: the label is what a viewer sees either way.)
"""

from __future__ import annotations


def default_label(node_id: str) -> str:
    """`nudge_email` -> `nudge email`."""
    return node_id.replace("_", " ")
