"""GET /metrics (with metrics.token): Prometheus text, counts and latency by route template."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from server.observability.metrics import AUTH_EVENTS as DECLARED_EVENTS
from server.observability.metrics import METRICS, RATE_LIMIT_BUDGETS
from tests._app import PREFIX
from tests.conftest import METRICS_AUTH

TOKEN_ROUTE = f"{PREFIX}/verify-email/{{token}}"
ROOT = Path(__file__).resolve().parents[2]
# What a dashboard alerts on; each must be a series at 0 before its first event (API.md).
AUTH_EVENTS = ("login_ok", "login_failed", "lockout", "refresh", "reuse_detected")
BUDGETS = ("ip", "auth", "user")


async def scrape(api) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    resp = await api.get("/metrics", headers=METRICS_AUTH)
    assert resp.status == 200
    assert resp.content_type == "text/plain"
    assert "version=0.0.4" in resp.headers["Content-Type"]
    samples = {}
    for family in text_string_to_metric_families(await resp.text()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


class TestRequestCounts:
    async def test_counted_by_method_route_and_status(self, api):
        for _ in range(3):
            await api.get("/health")
        await api.get("/api/v1/nowhere")
        await api.delete("/health")
        await api.get(f"{PREFIX}/boom")
        samples = await scrape(api)
        total = "gatehouse_http_requests_total"
        assert value(samples, total, method="GET", route="/health", status="200") == 3
        assert value(samples, total, method="GET", route="<unmatched>", status="404") == 1
        assert value(samples, total, method="DELETE", route="<unmatched>", status="405") == 1
        assert value(samples, total, method="GET", route=f"{PREFIX}/boom", status="500") == 1

    async def test_path_parameters_collapse_to_the_template(self, api):
        for token in ("aaa", "bbb", "ccc"):
            await api.get(f"{PREFIX}/verify-email/{token}")
        samples = await scrape(api)
        assert value(samples, "gatehouse_http_requests_total", method="GET", route=TOKEN_ROUTE,
                     status="200") == 3
        assert not [k for k in samples if any("aaa" in v for _, v in k[1])]

    async def test_invented_methods_share_one_label(self, api):
        # The parser refuses made-up methods, but knows dozens of WebDAV-style ones.
        assert (await api.request("PROPFIND", "/health")).status == 405
        assert (await api.request("MKCOL", "/nowhere")).status == 404
        samples = await scrape(api)
        methods = {dict(labels).get("method") for name, labels in samples
                   if name == "gatehouse_http_requests_total"}
        assert "OTHER" in methods
        assert not methods & {"PROPFIND", "MKCOL"}


class TestLatency:
    async def test_histogram_by_route(self, api):
        await api.get("/health")
        await api.get("/health")
        samples = await scrape(api)
        name = "gatehouse_http_request_duration_seconds"
        assert value(samples, f"{name}_count", method="GET", route="/health") == 2
        assert value(samples, f"{name}_bucket", method="GET", route="/health", le="+Inf") == 2
        assert value(samples, f"{name}_sum", method="GET", route="/health") > 0
        buckets = [k for k in samples if k[0] == f"{name}_bucket" and ("route", "/health") in k[1]]
        assert len(buckets) > 5


class TestGauges:
    async def test_in_flight_counts_the_scrape_itself(self, api):
        samples = await scrape(api)
        assert value(samples, "gatehouse_http_requests_in_flight") == 1

    async def test_in_flight_returns_to_zero(self, api):
        await api.get(f"{PREFIX}/boom")
        await scrape(api)
        assert api.server.app[METRICS].in_flight._value.get() == 0


class TestOtherFamilies:
    async def test_auth_and_rate_limit_families_are_exposed(self, api):
        api.server.app[METRICS].auth_event("login_ok")
        api.server.app[METRICS].rate_limited.labels("ip").inc()
        samples = await scrape(api)
        assert value(samples, "gatehouse_auth_events_total", event="login_ok") == 1
        assert value(samples, "gatehouse_rate_limit_rejections_total", budget="ip") == 1

    async def test_metrics_carry_the_security_headers(self, api):
        resp = await api.get("/metrics", headers=METRICS_AUTH)
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert "Server" not in resp.headers


def _constant(node: ast.expr, path: Path) -> str:
    """A literal, or a module-level name (`Budget(CREDENTIAL_BUDGET, ...)`) resolved by
    importing the module that uses it."""
    if isinstance(node, ast.Constant):
        return str(node.value)
    assert isinstance(node, ast.Name), f"{path}: Budget name must be a constant or a name"
    module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    return str(getattr(importlib.import_module(module), node.id))


def metric_labels_in_code() -> tuple[set[str], set[str]]:
    """Every `metric="..."` the services and middlewares pass, and every Budget name."""
    events, budgets = set(), set()
    for top in ("server", "middlewares", "handlers"):
        for path in (ROOT / top).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if not isinstance(node, ast.Call):
                    continue
                for keyword in node.keywords:
                    if keyword.arg == "metric" and isinstance(keyword.value, ast.Constant):
                        events.add(keyword.value.value)
                func = node.func
                if isinstance(func, ast.Name) and func.id == "Budget" and node.args:
                    budgets.add(_constant(node.args[0], path))
    return events, budgets


class TestFamiliesFromStart:
    """Issue 12 item 4: no "no data" before the first event; every known series reads 0."""

    async def test_a_fresh_app_exports_every_known_series_at_zero(self, api):
        samples = await scrape(api)
        events, budgets = metric_labels_in_code()
        for event in {*AUTH_EVENTS, *events}:
            assert value(samples, "gatehouse_auth_events_total", event=event) == 0, event
        for budget in {*BUDGETS, *budgets}:
            assert value(samples, "gatehouse_rate_limit_rejections_total", budget=budget) == 0

    async def test_the_text_names_each_series_before_any_event(self, api):
        text = await (await api.get("/metrics", headers=METRICS_AUTH)).text()
        found = set(re.findall(r'gatehouse_auth_events_total\{event="(\w+)"\} 0\.0', text))
        assert found == set(AUTH_EVENTS)
        found = set(re.findall(r'gatehouse_rate_limit_rejections_total\{budget="(\w+)"\} 0\.0',
                               text))
        assert found == set(BUDGETS)

    def test_every_label_the_code_uses_is_declared(self):
        # A new metric= or Budget without a zero series would bring "no data" back.
        events, budgets = metric_labels_in_code()
        assert events == set(DECLARED_EVENTS) == set(AUTH_EVENTS)
        assert budgets == set(RATE_LIMIT_BUDGETS) == set(BUDGETS)
