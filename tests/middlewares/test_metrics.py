"""GET /metrics (with metrics.token): Prometheus text, counts and latency by route template."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from server.observability.metrics import METRICS
from tests.conftest import METRICS_AUTH
from tests.middlewares._routes import PREFIX

TOKEN_ROUTE = f"{PREFIX}/verify-email/{{token}}"


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
