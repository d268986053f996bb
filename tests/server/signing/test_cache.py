"""The verified-token cache: bounded, least recently used out first, expiry and key checked
on every hit, a key's tokens dropped together."""

from __future__ import annotations

from server.signing.cache import TokenCache


def test_bounded_least_recently_used_goes_first() -> None:
    cache = TokenCache(2)
    cache.put("a", "A", "k1", 100)
    cache.put("b", "B", "k1", 100)
    assert cache.get("a", 0, {"k1"}) == "A"  # a is now the most recent
    cache.put("c", "C", "k1", 100)
    assert len(cache) == 2
    assert cache.get("b", 0, {"k1"}) is None
    assert cache.get("a", 0, {"k1"}) == "A"
    assert cache.get("c", 0, {"k1"}) == "C"


def test_expiry_is_checked_on_every_hit() -> None:
    cache = TokenCache(4)
    cache.put("a", "A", "k1", 100)
    assert cache.get("a", 99, {"k1"}) == "A"
    assert cache.get("a", 100, {"k1"}) is None
    assert len(cache) == 0


def test_a_key_no_longer_accepted_misses_and_drop_keys_forgets_its_tokens() -> None:
    cache = TokenCache(4)
    cache.put("a", "A", "k1", 100)
    cache.put("b", "B", "k2", 100)
    assert cache.get("a", 0, {"k2"}) is None  # k1 is not in the accepted set any more
    cache.put("a", "A", "k1", 100)
    cache.drop_keys({"k1"})
    assert len(cache) == 1
    assert cache.get("b", 0, {"k2"}) == "B"


def test_size_zero_caches_nothing() -> None:
    cache = TokenCache(0)
    cache.put("a", "A", "k1", 100)
    assert len(cache) == 0
