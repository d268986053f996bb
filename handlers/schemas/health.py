"""Response shapes of the operations endpoints (/health, /health/ready, /metrics)."""

from __future__ import annotations

from marshmallow import Schema, fields

from handlers.schemas.fields import IsoDateTime


class HealthSchema(Schema):
    status = fields.String(required=True, metadata={"enum": ["healthy"]})
    timestamp = IsoDateTime(required=True)
    uptime = fields.Float(required=True, metadata={"description": "Seconds since start",
                                                   "example": 12.5})
    environment = fields.String(required=True, metadata={
        "enum": ["development", "test", "production"]})
    version = fields.String(required=True, metadata={"example": "0.1.0"})


class ReadyChecksSchema(Schema):
    database = fields.String(required=True, metadata={"enum": ["up", "down"]})
    schema = fields.String(metadata={
        "enum": ["pending"],
        "description": "Present until the database's indexes and migrations are applied"})


class ReadySchema(Schema):
    status = fields.String(required=True, metadata={"enum": ["ready", "unavailable"]})
    checks = fields.Nested(ReadyChecksSchema, required=True)


HEALTH_EXAMPLE = {"status": "healthy", "timestamp": "2026-01-01T12:00:00.000Z", "uptime": 12.5,
                  "environment": "production", "version": "0.1.0"}
READY_EXAMPLE = {"status": "ready", "checks": {"database": "up"}}
DOWN_EXAMPLE = {"status": "unavailable", "checks": {"database": "down"}}
METRICS_DESCRIPTION = (
    "Anonymous clients never get metrics on the API port: the database-command counters "
    "would tell them which addresses are registered. Prometheus scrapes the metrics "
    "listener instead (`metrics.host`:`metrics.port`, loopback 127.0.0.1:9464 by default; "
    "`GET /metrics` there, every worker answering for the whole service). On this port the "
    "route answers 404, like any unknown route, unless `metrics.token` is set; then it "
    "needs `Authorization: Bearer <metrics.token>` (401 otherwise), as the listener does.")
METRICS_RESPONSE = {"200": {
    "description": "Prometheus text exposition format 0.0.4",
    "content": {"text/plain": {"schema": {"type": "string"},
                               "example": "gatehouse_http_requests_total{...} 1.0\n"}}}}
