"""Marshmallow request/response shapes (the wire format), one module per resource."""
