"""Typed, validated configuration: the sections' dataclasses, load_config and the rules across
keys (server/core/config_values.py reads YAML, applies APP__ overrides and converts values)."""

from __future__ import annotations

import base64
import dataclasses
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from server.core.config_values import ByteSize, ConfigError, apply_env, build, read_yaml
from server.core.roles import ROLES

DEFAULT_JWT_SECRETS = frozenset({"", "dev-access-secret-change-me", "dev-refresh-secret-change-me"})
ENVIRONMENTS = ("development", "test", "production")
SIGNING_ALGORITHMS = ("EdDSA", "ES256", "RS256", "HS256")

def _meta(minimum: float | timedelta | None = None, maximum: float | timedelta | None = None,
          choices: tuple[str, ...] | None = None) -> dict[str, Any]:
    return {"min": minimum, "max": maximum, "choices": choices}


@dataclass(frozen=True, slots=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = field(default=3000, metadata=_meta(0, 65535))
    workers: int = field(default=0, metadata=_meta(0, 256))
    # false/0: use the socket peer; true/N: trust N proxy hops of X-Forwarded-For.
    trust_proxy: int = field(default=0, metadata=_meta(0, 10))
    max_body_size: ByteSize = ByteSize(100 * 1024)  # noqa: RUF009 - an immutable int
    shutdown_timeout: timedelta = timedelta(seconds=30)
    # A connection must send a complete request head within header_timeout of opening (or of
    # its previous answer), and a body within body_timeout: slow clients are cut off.
    header_timeout: timedelta = field(default=timedelta(seconds=10),
                                      metadata=_meta(timedelta(milliseconds=100)))
    body_timeout: timedelta = field(default=timedelta(seconds=30),
                                    metadata=_meta(timedelta(milliseconds=100)))


@dataclass(frozen=True, slots=True)
class MongoConfig:
    uri: str = ""
    database: str = "gatehouse"
    data_dir: str = "./data/db"
    max_pool_size: int = field(default=50, metadata=_meta(1, 1000))
    timeout: timedelta = timedelta(seconds=2)


@dataclass(frozen=True, slots=True)
class JwtConfig:
    # Development defaults; check_production() refuses them.
    secret: str = "dev-access-secret-change-me"  # noqa: S105
    refresh_secret: str = "dev-refresh-secret-change-me"  # noqa: S105
    access_ttl: timedelta = timedelta(minutes=15)
    refresh_ttl: timedelta = timedelta(days=7)
    refresh_reuse_grace: timedelta = timedelta(seconds=10)
    issuer: str = "gatehouse"
    audience: str = "gatehouse-api"
    # Access-token signing (issue 15): HS256 signs with `secret`; the others with private keys
    # kept in the database, encrypted under key_encryption_key (32 bytes, base64url).
    algorithm: str = field(default="EdDSA", metadata=_meta(choices=SIGNING_ALGORITHMS))
    key_encryption_key: str = ""  # empty: development/test generate one under the data dir
    rotate_every: timedelta = timedelta(days=90)  # 0s: rotate only with `run.py keys rotate`
    key_publish_ahead: timedelta = timedelta(minutes=10)  # in the JWKS this long before signing
    jwks_max_age: timedelta = timedelta(minutes=5)  # Cache-Control max-age of the JWKS
    # How stale a worker's copy of the key set may get: new, rotated and revoked keys reach
    # every worker within this.
    key_refresh: timedelta = field(default=timedelta(seconds=5),
                                   metadata=_meta(timedelta(milliseconds=50)))
    token_cache_size: int = field(default=10000, metadata=_meta(0, 1_000_000))


@dataclass(frozen=True, slots=True)
class SecurityConfig:
    bcrypt_rounds: int = field(default=12, metadata=_meta(4, 31))
    max_login_attempts: int = field(default=5, metadata=_meta(1, 1000))
    lock_duration: timedelta = timedelta(hours=2)
    # A password check in flight holds one of the max_login_attempts slots at most this long:
    # a request that dies before settling its attempt frees the slot when the lease ends.
    login_attempt_lease: timedelta = timedelta(seconds=30)
    # Failures are forgotten this long after the latest one, for every address alike (the
    # counters of unknown addresses expire then, so the two must not differ).
    failed_login_ttl: timedelta = timedelta(hours=24)
    max_sessions: int = field(default=5, metadata=_meta(1, 100))
    # Encrypts TOTP secrets at rest (AES-GCM under a key derived from it). Empty: derived
    # from jwt.secret (checked in production already), but then rotating jwt.secret makes
    # every enrolled authenticator app unusable; set a key of its own to rotate freely.
    mfa_key: str = ""
    # Sensitive changes by an account with a second factor need a sign-in (or POST
    # /auth/reauth) this recent, or a current code in the request; an admin's change of a
    # role, status or email, a deletion or a factor reset need it, or currentPassword (+
    # code), of every admin (issue 16, step-up).
    reauth_window: timedelta = timedelta(minutes=5)
    # Accounts in these roles must enrol a second factor: until they do, they reach only the
    # enrolment routes (403 MFA_ENROLMENT_REQUIRED elsewhere).
    mfa_required_roles: tuple[str, ...] = ("admin",)


@dataclass(frozen=True, slots=True)
class WebAuthnConfig:
    # Passkeys (issue 16): the relying party is the registrable domain the browser shows
    # (a credential made for it works on it and its subdomains), and every origin a
    # ceremony may come from (scheme, host and port, exactly as the browser reports it).
    rp_id: str = "localhost"
    rp_name: str = "Gatehouse"
    origins: tuple[str, ...] = ("http://localhost:3000",)


@dataclass(frozen=True, slots=True)
class RateLimitConfig:
    enabled: bool = True
    store: str = field(default="mongodb", metadata=_meta(choices=("mongodb", "redis", "memory")))
    redis_url: str = "redis://127.0.0.1:6379/0"
    window: timedelta = timedelta(minutes=15)
    max: int = field(default=100, metadata=_meta(1))
    auth_window: timedelta = timedelta(minutes=15)
    auth_max: int = field(default=10, metadata=_meta(1))
    user_window: timedelta = timedelta(minutes=15)
    user_max: int = field(default=300, metadata=_meta(1))
    ipv6_prefix: int = field(default=64, metadata=_meta(1, 128))  # IPv6 counts by /N network
    # Bound on one counter round trip to the store; past it /api/ requests answer 503.
    timeout: timedelta = timedelta(seconds=2)


@dataclass(frozen=True, slots=True)
class CorsConfig:
    allowed_origins: tuple[str, ...] = ("http://localhost:3000",)
    credentials: bool = True


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    host: str = "localhost"
    port: int = field(default=587, metadata=_meta(1, 65535))
    username: str = ""
    password: str = ""
    starttls: bool = True
    timeout: timedelta = timedelta(seconds=10)


@dataclass(frozen=True, slots=True)
class MailConfig:
    backend: str = field(default="console", metadata=_meta(choices=("console", "file", "smtp")))
    sender: str = "Gatehouse <no-reply@localhost>"
    file_dir: str = "./data/mail"
    smtp: SmtpConfig = SmtpConfig()
    # Outbox sender: how often an idle worker looks for due mail, and the retry policy.
    poll_interval: timedelta = timedelta(seconds=2)
    retry_delay: timedelta = timedelta(seconds=5)
    retry_max_delay: timedelta = timedelta(minutes=5)
    max_attempts: int = field(default=300, metadata=_meta(1, 100000))
    # How long a sender's claim on a message lasts: a sender that dies mid-delivery holds
    # the message this long, then another sender delivers it (check_mail: above one delivery).
    claim_lease: timedelta = timedelta(seconds=90)


@dataclass(frozen=True, slots=True)
class LoggingConfig:
    level: str = field(default="info", metadata=_meta(
        choices=("debug", "info", "warning", "error")))
    format: str = field(default="json", metadata=_meta(choices=("json", "text")))


@dataclass(frozen=True, slots=True)
class MetricsConfig:
    # Prometheus scrapes a listener of its own (one per worker on one shared socket, like
    # the API port); the API port serves /metrics only to the bearer of `token`.
    host: str = "127.0.0.1"
    port: int = field(default=9464, metadata=_meta(0, 65535))  # 0: no metrics listener
    token: str = ""  # empty: no /metrics on the API port; set: required on both ports


@dataclass(frozen=True, slots=True)
class Config:
    environment: str = field(default="development", metadata=_meta(choices=ENVIRONMENTS))
    server: ServerConfig = ServerConfig()
    mongodb: MongoConfig = MongoConfig()
    jwt: JwtConfig = JwtConfig()
    security: SecurityConfig = SecurityConfig()
    webauthn: WebAuthnConfig = WebAuthnConfig()
    rate_limit: RateLimitConfig = RateLimitConfig()
    cors: CorsConfig = CorsConfig()
    mail: MailConfig = MailConfig()
    frontend_url: str = "http://localhost:3000"
    logging: LoggingConfig = LoggingConfig()
    metrics: MetricsConfig = MetricsConfig()

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


