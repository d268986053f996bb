"""HTTP handlers: one class per resource."""
