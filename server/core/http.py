"""HTTP constants of the contract: the API prefix, header names and the helmet header set."""

from __future__ import annotations

API_PREFIX = "/api/v1"
AUTH_PREFIX = f"{API_PREFIX}/auth"  # also the refresh cookie's Path

REQUEST_ID_HEADER = "X-Request-ID"

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
