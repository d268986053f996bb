"""A third-party verifier: the README's Python example (PyJWT's PyJWKClient), driven line by
line. Usage: python pyjwk_verify.py JWKS_URL ISSUER AUDIENCE ALGORITHM CACHE_S; each token
read from stdin answers one JSON line, {"ok": true, "kid", "sub"} or {"ok": false, "code"}.
It imports nothing of Gatehouse."""

import json
import sys

import jwt
from jwt import PyJWKClient

jwks_url, issuer, audience, algorithm, cache_s = sys.argv[1:6]
# lifespan: how long the fetched set is trusted (match jwt.jwks_max_age); an unknown kid
# refetches it. cache_keys=False: its per-kid LRU would keep a revoked key past the lifespan.
client = PyJWKClient(jwks_url, cache_keys=False, lifespan=float(cache_s))

for line in sys.stdin:
    token = line.strip()
    try:
        key = client.get_signing_key_from_jwt(token)
        claims = jwt.decode(token, key.key, algorithms=[algorithm], issuer=issuer,
                            audience=audience)
        answer = {"ok": True, "kid": key.key_id, "sub": claims["sub"]}
    except jwt.PyJWTError as exc:
        answer = {"ok": False, "code": type(exc).__name__}
    print(json.dumps(answer), flush=True)
