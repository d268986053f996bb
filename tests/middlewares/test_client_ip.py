"""The client address behind proxies, attacked over raw HTTP: every X-Forwarded-For line
counts (issue 13 item 11), and rate-limit keys are canonical, IPv6 by network (item 12)."""

from __future__ import annotations

from typing import Any

import orjson

from tests._app import PING, bearer, raw_exchange
from tests.handlers._auth import AUTH, person

TRUST_ONE_HOP = {"APP__SERVER__TRUST_PROXY": "1"}
PROXY_SAW = "203.0.113.7"  # the client's real address, as our proxy appends it


async def raw_request(client: Any, method: str, path: str, header_lines: list[str],
                      body: bytes = b"") -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 exchange with exactly these header lines (no client library merges or
    reorders them), as a proxy that appends its own X-Forwarded-For line sends it."""
    head = [f"{method} {path} HTTP/1.1", "Host: gatehouse.test", "Connection: close",
            *header_lines]
    if body:
        head += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    request = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body
    status, headers, payload = await raw_exchange(client, request, within=10)
    return int(status.split()[1]), headers, payload


def remaining(headers: Any) -> int:
    return int(headers["ratelimit-remaining"])  # raw dict: lower-cased; aiohttp's: any case


class TestSeveralForwardedForLines:
    async def test_the_client_cannot_choose_its_budget(self, limited: Any,
                                                       limited_client: Any) -> None:
        client = await limited_client(limited(max=2, environ=TRUST_ONE_HOP))
        # The client writes a line of its own; our proxy appends the address it saw.
        statuses = []
        for i in range(3):
            status, _, _ = await raw_request(client, "GET", PING, [
                f"X-Forwarded-For: 10.0.0.{i}", f"X-Forwarded-For: {PROXY_SAW}"])
            statuses.append(status)
        assert statuses == [200, 200, 429]
        # Another real client behind the same proxy still has its own budget.
        status, headers, _ = await raw_request(client, "GET", PING, [
            "X-Forwarded-For: 10.0.0.1", "X-Forwarded-For: 198.51.100.2"])
        assert status == 200
        assert remaining(headers) == 1

    async def test_lines_and_commas_combine_in_order(self, limited: Any,
                                                     limited_client: Any) -> None:
        client = await limited_client(limited(max=50, environ={"APP__SERVER__TRUST_PROXY": "2"}))
        # Two trusted hops: the second address from the right of all lines joined.
        for i in range(3):
            await raw_request(client, "GET", PING, [
                f"X-Forwarded-For: 10.9.9.{i}, {PROXY_SAW}", f"X-Forwarded-For: 10.0.0.{i}"])
        status, headers, _ = await raw_request(client, "GET", PING, [
            f"X-Forwarded-For: {PROXY_SAW}", "X-Forwarded-For: 10.0.0.9"])
        assert status == 200
        assert remaining(headers) == 46

    async def test_the_session_records_the_real_address(self, make_config: Any,
                                                       make_client: Any) -> None:
        client = await make_client(make_config(server={"trust_proxy": 1}))
        body = orjson.dumps(person())
        status, _, payload = await raw_request(client, "POST", f"{AUTH}/register", [
            "X-Forwarded-For: 6.6.6.6", f"X-Forwarded-For: {PROXY_SAW}"], body)
        assert status == 201, payload
        token = orjson.loads(payload)["data"]["accessToken"]
        sessions = await client.get(f"{AUTH}/sessions", headers=bearer(token))
        [session] = (await sessions.json())["data"]["sessions"]
        assert session["ip"] == PROXY_SAW


class TestCanonicalKeys:
    async def test_one_ipv6_network_shares_one_budget(self, limited: Any,
                                                      limited_client: Any) -> None:
        client = await limited_client(limited(max=2, environ=TRUST_ONE_HOP))
        spellings = ["2001:DB8:1:2::1", "2001:0db8:0001:0002::1", "2001:db8:1:2::2"]
        statuses = [(await client.get(PING, headers={"X-Forwarded-For": ip})).status
                    for ip in spellings]
        assert statuses == [200, 200, 429]
        other = await client.get(PING, headers={"X-Forwarded-For": "2001:db8:1:3::1"})
        assert other.status == 200
        assert remaining(other.headers) == 1

    async def test_ipv4_mapped_ipv6_is_the_ipv4_address(self, limited: Any,
                                                        limited_client: Any) -> None:
        client = await limited_client(limited(max=2, environ=TRUST_ONE_HOP))
        spellings = ["::ffff:192.0.2.9", "192.0.2.9", "::FFFF:c000:0209"]
        statuses = [(await client.get(PING, headers={"X-Forwarded-For": ip})).status
                    for ip in spellings]
        assert statuses == [200, 200, 429]

    async def test_the_network_size_is_configurable(self, limited: Any,
                                                    limited_client: Any) -> None:
        client = await limited_client(limited(max=2, ipv6_prefix=48, environ=TRUST_ONE_HOP))
        spellings = ["2001:db8:1:2::1", "2001:db8:1:3::1", "2001:db8:1:ffff::1"]
        statuses = [(await client.get(PING, headers={"X-Forwarded-For": ip})).status
                    for ip in spellings]
        assert statuses == [200, 200, 429]
        other = await client.get(PING, headers={"X-Forwarded-For": "2001:db8:2::1"})
        assert other.status == 200

    async def test_sessions_and_logs_see_one_spelling(self, make_config: Any,
                                                     make_client: Any) -> None:
        client = await make_client(make_config(server={"trust_proxy": 1}))
        resp = await client.post(f"{AUTH}/register", json=person(),
                                 headers={"X-Forwarded-For": "2001:0DB8:0001:0002::0001"})
        token = (await resp.json())["data"]["accessToken"]
        sessions = await client.get(f"{AUTH}/sessions", headers=bearer(token))
        [session] = (await sessions.json())["data"]["sessions"]
        assert session["ip"] == "2001:db8:1:2::1"
