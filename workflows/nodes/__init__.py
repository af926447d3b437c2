"""One module per node type; `workflows.registry` maps each type to its handler."""
