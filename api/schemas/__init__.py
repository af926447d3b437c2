"""Request and response models of the gateway, one module per resource (not table models)."""
