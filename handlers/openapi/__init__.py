"""The OpenAPI machinery: route decorators, the document builder and field hints."""
