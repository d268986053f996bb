"""HTTP constants of the contract: the API prefix, header names, the helmet header set, and
what the route table says of each route besides its handler (RoutePolicy, RouteTable)."""

from __future__ import annotations

import re
from dataclasses import dataclass

API_PREFIX = "/api/v1"
AUTH_PREFIX = f"{API_PREFIX}/auth"  # also the refresh cookie's Path
OAUTH_PREFIX = f"{API_PREFIX}/oauth"  # introspection and revocation (issue 15)
# RFC 8414 metadata, and the JWKS it points to (served by the signing-keys routes).
AUTHORIZATION_SERVER_METADATA = "/.well-known/oauth-authorization-server"
JWKS_PATH = "/.well-known/jwks.json"

REQUEST_ID_HEADER = "X-Request-ID"
FORWARDED_FOR_HEADER = "X-Forwarded-For"

# helmet 7 defaults (the CSP is helmet's default policy, minus nothing).
CONTENT_SECURITY_POLICY = (
    "default-src 'self';base-uri 'self';font-src 'self' https: data:;"
    "form-action 'self';frame-ancestors 'self';img-src 'self' data:;object-src 'none';"
    "script-src 'self';script-src-attr 'none';style-src 'self' https: 'unsafe-inline';"
    "upgrade-insecure-requests"
)
SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("Strict-Transport-Security", "max-age=31536000; includeSubDomains; preload"),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "SAMEORIGIN"),
    ("Referrer-Policy", "no-referrer"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Cross-Origin-Resource-Policy", "same-origin"),
    ("Origin-Agent-Cluster", "?1"),
    ("X-DNS-Prefetch-Control", "off"),
    ("X-Download-Options", "noopen"),
    ("X-Permitted-Cross-Domain-Policies", "none"),
    ("X-XSS-Protection", "0"),
)
SECURITY_HEADER_NAMES = frozenset(name for name, _ in SECURITY_HEADERS)


def is_api_path(path: str) -> bool:
    """True for `/api/v1` and anything under it (not `/api/v10`)."""
    return path == API_PREFIX or path.startswith(API_PREFIX + "/")


# The extra per-IP budget a route may spend besides the general one (rate_limit.auth_*).
CREDENTIAL_BUDGET = "auth"
TOKEN_VARIABLE = "{token}"  # noqa: S105 - a path variable's name, not a secret
_SLASHES = re.compile(r"/{2,}")


@dataclass(frozen=True, slots=True)
class RoutePolicy:
    """What the route table says of one path template besides its handlers."""

    template: str
    budget: str | None = None  # CREDENTIAL_BUDGET, or None for the general budget only
    token_in_path: bool = False  # a live secret travels in the path: logs show the template

    @property
    def token_prefix(self) -> str:
        """The part of the template before its token (`/api/v1/auth/reset-password/`)."""
        return self.template.partition(TOKEN_VARIABLE)[0]


class RouteTable:
    """Every route's policy, by method and template; filled once by the web layer's table.
    Budgets are per method (`PATCH /users/me` may change the sign-in email and spends the
    credential budget, `GET /users/me` does not); a template carries a token or not."""

    def __init__(self) -> None:
        self.by_route: dict[tuple[str, str], RoutePolicy] = {}
        self.by_template: dict[str, RoutePolicy] = {}  # the first method's, for 404/405
        self.token_routes: list[RoutePolicy] = []

    def add(self, policy: RoutePolicy, method: str = "GET") -> None:
        if policy.budget not in (None, CREDENTIAL_BUDGET):
            raise ValueError(f"{policy.template}: unknown budget {policy.budget!r}")
        if self.by_route.setdefault((method, policy.template), policy) != policy:
            raise ValueError(f"{method} {policy.template}: two policies for one route")
        first = self.by_template.setdefault(policy.template, policy)
        if first.token_in_path != policy.token_in_path:
            raise ValueError(f"{policy.template}: a token in the path for some methods only")
        if policy.token_in_path and first is policy:
            if TOKEN_VARIABLE not in policy.template:
                raise ValueError(f"{policy.template}: a token route needs {TOKEN_VARIABLE}")
            self.token_routes.append(policy)

    def find(self, template: str | None, path: str, method: str = "GET") -> RoutePolicy | None:
        """The policy of the matched route (`template` and `method`; HEAD is GET's); for a
        request no route matched (404, 405), the route whose path it names, or the token
        route under whose prefix it falls (`/reset-password/<token>/x`)."""
        if template is not None:
            return self.by_route.get(("GET" if method == "HEAD" else method, template))
        found = self.by_template.get(path)
        if found is not None:
            return found
        if self.token_routes:
            squeezed = _SLASHES.sub("/", path)
            for policy in self.token_routes:
                if squeezed.startswith(policy.token_prefix):
                    return policy
        return None
