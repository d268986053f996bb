"""Verified access tokens, remembered per worker: a bounded LRU keyed by the token, so the
authenticated path skips the signature check (an Ed25519 verify costs ~2.5x an HS256 one)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from typing import Any


class TokenCache:
    """token -> (claims, kid, expires_at). A hit still checks expiry and that its key is
    still one we accept (a revoked key's tokens are dropped at the refresh that removes it,
    and refused by that check until then). Session liveness is not cached: the
    authenticated path reads the user and session from the database on every request."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[str, tuple[Any, str, int]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, token: str, now: float, accepted: Iterable[str] | Any) -> Any | None:
        """The claims of a verified, unexpired token whose kid is in `accepted`, else None."""
        entry = self._entries.get(token)
        if entry is None:
            return None
        claims, kid, expires = entry
        if expires <= now or kid not in accepted:
            del self._entries[token]
            return None
        self._entries.move_to_end(token)
        return claims

    def put(self, token: str, claims: Any, kid: str, expires: int) -> None:
        if self.size <= 0:
            return
        self._entries[token] = (claims, kid, expires)
        self._entries.move_to_end(token)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def drop_keys(self, kids: set[str]) -> None:
        """Forget every token signed by one of `kids` (revoked or left the set)."""
        if kids:
            for token in [t for t, (_, kid, _) in self._entries.items() if kid in kids]:
                del self._entries[token]
