"""Typed, validated configuration: Config (its sections' dataclasses are in
server/core/config_sections.py), load_config and the rules across keys
(server/core/config_values.py reads YAML, applies APP__ overrides and converts values)."""

from __future__ import annotations

import base64
import dataclasses
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from server.core.config_sections import ENVIRONMENTS, meta
from server.core.config_sections import (
    CorsConfig as CorsConfig,
)
from server.core.config_sections import (
    JwtConfig as JwtConfig,
)
from server.core.config_sections import (
    LoggingConfig as LoggingConfig,
)
from server.core.config_sections import (
    MailConfig as MailConfig,
)
from server.core.config_sections import (
    MetricsConfig as MetricsConfig,
)
from server.core.config_sections import (
    MongoConfig as MongoConfig,
)
from server.core.config_sections import (
    RateLimitConfig as RateLimitConfig,
)
from server.core.config_sections import (
    SecurityConfig as SecurityConfig,
)
from server.core.config_sections import (
    ServerConfig as ServerConfig,
)
from server.core.config_sections import (
    SmtpConfig as SmtpConfig,
)
from server.core.config_sections import (
    WebAuthnConfig as WebAuthnConfig,
)
from server.core.config_values import ConfigError, apply_env, build, read_yaml
from server.core.roles import ROLES

DEFAULT_JWT_SECRETS = frozenset({"", "dev-access-secret-change-me", "dev-refresh-secret-change-me"})


@dataclass(frozen=True, slots=True)
class Config:
    environment: str = field(default="development", metadata=meta(choices=ENVIRONMENTS))
    server: ServerConfig = field(default_factory=ServerConfig)
    mongodb: MongoConfig = field(default_factory=MongoConfig)
    jwt: JwtConfig = field(default_factory=JwtConfig)
    security: SecurityConfig = field(default_factory=SecurityConfig)
    webauthn: WebAuthnConfig = field(default_factory=WebAuthnConfig)
    rate_limit: RateLimitConfig = field(default_factory=RateLimitConfig)
    cors: CorsConfig = field(default_factory=CorsConfig)
    mail: MailConfig = field(default_factory=MailConfig)
    frontend_url: str = "http://localhost:3000"
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)

    @property
    def is_development(self) -> bool:
        return self.environment == "development"

    @property
    def is_production(self) -> bool:
        return self.environment == "production"


# YAML spells `mail.from`; `from` is a Python keyword, so the field is `sender`.
def load_config(path: str | Path | None = None,
                environ: Mapping[str, str] | None = None) -> Config:
    """Read YAML, apply APP__ overrides, validate. Raises ConfigError naming the key."""
    raw = read_yaml(path) if path is not None else {}
    apply_env(raw, environ or {})
    config: Config = build(Config, raw, "")
    check_production(config)
    check_signing(config)
    check_rate_limit(config)
    check_security(config)
    check_mail(config)
    return config


def with_overrides(config: Config, **sections: dict[str, Any]) -> Config:
    """Return a copy with some fields of some sections replaced (CLI flags, tests)."""
    changes = {name: dataclasses.replace(getattr(config, name), **(values or {}))
               for name, values in sections.items()}
    return dataclasses.replace(config, **changes)


def check_production(config: Config) -> None:
    """Production refuses default secrets, the embedded database and open metrics."""
    if not config.is_production:
        return
    if config.jwt.secret in DEFAULT_JWT_SECRETS:
        raise ConfigError("jwt.secret: production needs a secret from the environment "
                          "(APP__JWT__SECRET), not the default")
    if config.jwt.refresh_secret in DEFAULT_JWT_SECRETS:
        raise ConfigError("jwt.refresh_secret: production needs a secret from the environment "
                          "(APP__JWT__REFRESH_SECRET), not the default")
    if len(config.jwt.secret) < 32 or len(config.jwt.refresh_secret) < 32:
        raise ConfigError("jwt.secret: production secrets must be at least 32 characters")
    if config.security.mfa_key and len(config.security.mfa_key) < 32:
        raise ConfigError("security.mfa_key: production keys must be at least 32 characters")
    if not config.mongodb.uri:
        raise ConfigError("mongodb.uri: production needs a MongoDB URI (the embedded "
                          "database is for development and tests)")
    if config.jwt.algorithm != "HS256" and not config.jwt.key_encryption_key:
        raise ConfigError("jwt.key_encryption_key: production needs a key-encryption key from "
                          "the environment (APP__JWT__KEY_ENCRYPTION_KEY, 32 bytes base64url)")
    _check_metrics_exposure(config.metrics)
    _check_webauthn(config.webauthn)


def _check_webauthn(webauthn: WebAuthnConfig) -> None:
    """Production passkeys: every origin HTTPS (plain HTTP only on localhost, as browsers
    allow) and on webauthn.rp_id or a subdomain of it (a browser refuses anything else)."""
    for origin in webauthn.origins:
        scheme, _, rest = origin.partition("://")
        host = rest.split("/")[0].rsplit(":", 1)[0] if ":" in rest else rest.split("/")[0]
        if scheme != "https" and not (scheme == "http" and host == "localhost"):
            raise ConfigError(f"webauthn.origins: {origin} must be https:// in production")
        if host != webauthn.rp_id and not host.endswith("." + webauthn.rp_id):
            raise ConfigError(f"webauthn.origins: {origin} is not on webauthn.rp_id "
                              f"({webauthn.rp_id}) or a subdomain of it")


def _check_metrics_exposure(metrics: MetricsConfig) -> None:
    """Production never serves metrics to anyone who can reach them: a listener beyond the
    loopback needs the token, and a token must be as long as the JWT secrets."""
    if metrics.token and len(metrics.token) < 32:
        raise ConfigError("metrics.token: production tokens must be at least 32 characters")
    if metrics.port and not metrics.token and not is_loopback(metrics.host):
        raise ConfigError(f"metrics.host: production would serve metrics on {metrics.host} to "
                          "anyone who reaches it; keep the loopback default (127.0.0.1) or set "
                          "metrics.token (APP__METRICS__TOKEN)")


def is_loopback(host: str) -> bool:
    """True for `localhost` and loopback addresses (127.0.0.0/8, ::1); False for names and
    for the any-address (`0.0.0.0`, `::`, empty)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_signing(config: Config) -> None:
    """A new key must reach every worker and every verifier's JWKS cache before it signs."""
    jwt_cfg = config.jwt
    if jwt_cfg.key_encryption_key and not valid_kek(jwt_cfg.key_encryption_key):
        raise ConfigError("jwt.key_encryption_key: expected 32 bytes in base64url "
                          "(e.g. python -c 'import os,base64;print(base64.urlsafe_b64encode("
                          "os.urandom(32)).decode())')")
    needed = jwt_cfg.jwks_max_age + jwt_cfg.key_refresh
    if jwt_cfg.key_publish_ahead <= needed:
        raise ConfigError(f"jwt.key_publish_ahead: must be longer than jwt.jwks_max_age + "
                          f"jwt.key_refresh ({needed.total_seconds():g}s here), got "
                          f"{jwt_cfg.key_publish_ahead.total_seconds():g}s")
    if jwt_cfg.rotate_every and jwt_cfg.rotate_every <= jwt_cfg.key_publish_ahead:
        raise ConfigError("jwt.rotate_every: must be 0s (no schedule) or longer than "
                          "jwt.key_publish_ahead")


def valid_kek(text: str) -> bool:
    """True for 32 bytes written in base64url (padding optional)."""
    try:
        return len(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))) == 32
    except ValueError:
        return False


def check_security(config: Config) -> None:
    """A zero lease would free every slot at once (unlimited concurrent guesses); a misspelt
    role in mfa_required_roles would silently require a second factor of nobody."""
    for name in ("login_attempt_lease", "failed_login_ttl", "reauth_window"):
        if getattr(config.security, name) <= timedelta(0):
            raise ConfigError(f"security.{name}: must be longer than 0s")
    unknown = [role for role in config.security.mfa_required_roles if role not in ROLES]
    if unknown:
        raise ConfigError(f"security.mfa_required_roles: unknown role {', '.join(unknown)} "
                          f"(the roles are {', '.join(ROLES)})")


def check_rate_limit(config: Config) -> None:
    """The memory store counts per process: only a single-worker, non-production run may use it."""
    limits = config.rate_limit
    if not limits.enabled or limits.store != "memory":
        return
    if config.server.workers != 1:
        raise ConfigError("rate_limit.store: memory counts per process; it needs "
                          f"server.workers = 1 (got {config.server.workers}); use mongodb or redis")
    if config.is_production:
        raise ConfigError("rate_limit.store: memory is for development; use mongodb or redis")


def check_mail(config: Config) -> None:
    """A claim must outlast what a live sender does under it: a delivery (cut off at three
    SMTP timeouts) and two database round trips (the guard lookup, the result)."""
    mail = config.mail
    needed = 3 * mail.smtp.timeout + 2 * config.mongodb.timeout
    if mail.claim_lease <= needed:
        raise ConfigError(f"mail.claim_lease: must be longer than 3 x mail.smtp.timeout + "
                          f"2 x mongodb.timeout ({needed.total_seconds():g}s here), got "
                          f"{mail.claim_lease.total_seconds():g}s")


