"""The OpenAPI machinery: route decorators, the document builder, field hints, and the
serializers compiled from the documented response schemas (so bodies match the document)."""
