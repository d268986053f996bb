"""The two envelopes every body sits in: success (`success_schema`) and the error body."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import Schema, fields


class FieldErrorSchema(Schema):
    field = fields.String(required=True, metadata={"example": "email"})
    message = fields.String(required=True, metadata={"example": "Please provide a valid email"})


class ErrorSchema(Schema):
    """The error body of every 4xx/5xx (API.md, Conventions)."""

    success = fields.Boolean(required=True, metadata={"enum": [False]})
    error = fields.String(required=True, metadata={"description": "The problem, for people."})
    code = fields.String(required=True, metadata={
        "description": "Stable UPPER_SNAKE_CASE identifier for programs (listed in the enum)."})
    request_id = fields.String(required=True, data_key="requestId",
                               metadata={"description": "Equals the X-Request-ID header."})
    timestamp = fields.String(required=True, metadata={"format": "date-time"})
    errors = fields.List(fields.Nested(FieldErrorSchema), metadata={
        "description": "Validation failures: every problem with its field."})
    retry_after = fields.Integer(data_key="retryAfter", metadata={
        "description": "429 only: seconds until the budget allows another request."})
    stack = fields.String(metadata={"description": "500 in development only."})


class SuccessSchema(Schema):
    """`{"success": true, "message"?: str}`: the success envelope with no data."""

    success = fields.Boolean(required=True, metadata={"enum": [True]})
    message = fields.String(metadata={"example": "Done"})


def success_body(data: Any = None, message: str | None = None) -> dict[str, Any]:
    """`{"success": true, "message"?, "data"?}`: what SuccessSchema and its subclasses dump
    (each part left out when None)."""
    body: dict[str, Any] = {"success": True}
    if message is not None:
        body["message"] = message
    if data is not None:
        body["data"] = data
    return body


def success_schema(name: str, data: type[Schema] | Mapping[str, fields.Field] | None = None,
                   *, message: str | None = None,
                   example: Mapping[str, Any] | None = None) -> type[Schema]:
    """A success envelope class named `name` (its OpenAPI component name, less `Schema`),
    with a required `data` object of the given shape, an example `message`, and a whole-body
    `example` that `@success` documents unless the route gives its own."""
    attrs: dict[str, Any] = {"response_example": example}
    if message is not None:
        attrs["message"] = fields.String(required=True, metadata={"example": message})
    if data is not None:
        if not isinstance(data, type):
            data = Schema.from_dict(dict(data), name=f"{name.removesuffix('Schema')}DataSchema")
        attrs["data"] = fields.Nested(data, required=True)
    return type(name, (SuccessSchema,), attrs)
