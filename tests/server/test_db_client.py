"""The Motor client's pool: mongodb.max_pool_size, unless the URI names its own maxPoolSize."""

from __future__ import annotations

import pytest

from server.db import make_client


@pytest.mark.parametrize(("uri", "expected"), [
    ("mongodb://127.0.0.1:1/", 50),
    ("mongodb://127.0.0.1:1/?maxPoolSize=3", 3),
    ("mongodb://127.0.0.1:1/?directConnection=true&MAXPOOLSIZE=7", 7),
    ("mongodb://a.internal:1,b.internal:2/gh?replicaSet=rs0", 50),
])
async def test_the_pool_size_a_uri_names_wins(uri: str, expected: int) -> None:
    client = make_client(uri, 1.0, 50)
    try:
        assert client.options.pool_options.max_pool_size == expected
    finally:
        client.close()
