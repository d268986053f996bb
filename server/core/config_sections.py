"""The config's sections: one frozen dataclass per YAML section, with each field's bounds and
choices in its metadata (server/core/config.py assembles them into Config and checks the rules
across keys)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from server.core.config_values import ByteSize

ENVIRONMENTS = ("development", "test", "production")
SIGNING_ALGORITHMS = ("EdDSA", "ES256", "RS256", "HS256")


def meta(minimum: float | timedelta | None = None, maximum: float | timedelta | None = None,
          choices: tuple[str, ...] | None = None) -> dict[str, Any]:
    return {"min": minimum, "max": maximum, "choices": choices}


@dataclass(frozen=True, slots=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = field(default=3000, metadata=meta(0, 65535))
    workers: int = field(default=0, metadata=meta(0, 256))
    # false/0: use the socket peer; true/N: trust N proxy hops of X-Forwarded-For.
    trust_proxy: int = field(default=0, metadata=meta(0, 10))
    max_body_size: ByteSize = ByteSize(100 * 1024)  # noqa: RUF009 - an immutable int
    shutdown_timeout: timedelta = timedelta(seconds=30)
    # A connection must send a complete request head within header_timeout of opening (or of
    # its previous answer), and a body within body_timeout: slow clients are cut off.
    header_timeout: timedelta = field(default=timedelta(seconds=10),
                                      metadata=meta(timedelta(milliseconds=100)))
    body_timeout: timedelta = field(default=timedelta(seconds=30),
                                    metadata=meta(timedelta(milliseconds=100)))


@dataclass(frozen=True, slots=True)
class MongoConfig:
    uri: str = ""
    database: str = "gatehouse"
    data_dir: str = "./data/db"
    max_pool_size: int = field(default=50, metadata=meta(1, 1000))
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
    algorithm: str = field(default="EdDSA", metadata=meta(choices=SIGNING_ALGORITHMS))
    key_encryption_key: str = ""  # empty: development/test generate one under the data dir
    rotate_every: timedelta = timedelta(days=90)  # 0s: rotate only with `run.py keys rotate`
    key_publish_ahead: timedelta = timedelta(minutes=10)  # in the JWKS this long before signing
    jwks_max_age: timedelta = timedelta(minutes=5)  # Cache-Control max-age of the JWKS
    # How stale a worker's copy of the key set may get: new, rotated and revoked keys reach
    # every worker within this.
    key_refresh: timedelta = field(default=timedelta(seconds=5),
                                   metadata=meta(timedelta(milliseconds=50)))
    token_cache_size: int = field(default=10000, metadata=meta(0, 1_000_000))


@dataclass(frozen=True, slots=True)
class SecurityConfig:
    bcrypt_rounds: int = field(default=12, metadata=meta(4, 31))
    max_login_attempts: int = field(default=5, metadata=meta(1, 1000))
    lock_duration: timedelta = timedelta(hours=2)
    # A password check in flight holds one of the max_login_attempts slots at most this long:
    # a request that dies before settling its attempt frees the slot when the lease ends.
    login_attempt_lease: timedelta = timedelta(seconds=30)
    # Failures are forgotten this long after the latest one, for every address alike (the
    # counters of unknown addresses expire then, so the two must not differ).
    failed_login_ttl: timedelta = timedelta(hours=24)
    max_sessions: int = field(default=5, metadata=meta(1, 100))
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
    store: str = field(default="mongodb", metadata=meta(choices=("mongodb", "redis", "memory")))
    redis_url: str = "redis://127.0.0.1:6379/0"
    window: timedelta = timedelta(minutes=15)
    max: int = field(default=100, metadata=meta(1))
    auth_window: timedelta = timedelta(minutes=15)
    auth_max: int = field(default=10, metadata=meta(1))
    user_window: timedelta = timedelta(minutes=15)
    user_max: int = field(default=300, metadata=meta(1))
    ipv6_prefix: int = field(default=64, metadata=meta(1, 128))  # IPv6 counts by /N network
    # Bound on one counter round trip to the store; past it /api/ requests answer 503.
    timeout: timedelta = timedelta(seconds=2)


@dataclass(frozen=True, slots=True)
class CorsConfig:
    allowed_origins: tuple[str, ...] = ("http://localhost:3000",)
    credentials: bool = True


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    host: str = "localhost"
    port: int = field(default=587, metadata=meta(1, 65535))
    username: str = ""
    password: str = ""
    starttls: bool = True
    timeout: timedelta = timedelta(seconds=10)


@dataclass(frozen=True, slots=True)
class MailConfig:
    backend: str = field(default="console", metadata=meta(choices=("console", "file", "smtp")))
    sender: str = "Gatehouse <no-reply@localhost>"
    file_dir: str = "./data/mail"
    smtp: SmtpConfig = SmtpConfig()
    # Outbox sender: how often an idle worker looks for due mail, and the retry policy.
    poll_interval: timedelta = timedelta(seconds=2)
    retry_delay: timedelta = timedelta(seconds=5)
    retry_max_delay: timedelta = timedelta(minutes=5)
    max_attempts: int = field(default=300, metadata=meta(1, 100000))
    # How long a sender's claim on a message lasts: a sender that dies mid-delivery holds
    # the message this long, then another sender delivers it (check_mail: above one delivery).
    claim_lease: timedelta = timedelta(seconds=90)


@dataclass(frozen=True, slots=True)
class LoggingConfig:
    level: str = field(default="info", metadata=meta(
        choices=("debug", "info", "warning", "error")))
    format: str = field(default="json", metadata=meta(choices=("json", "text")))


@dataclass(frozen=True, slots=True)
class MetricsConfig:
    # Prometheus scrapes a listener of its own (one per worker on one shared socket, like
    # the API port); the API port serves /metrics only to the bearer of `token`.
    host: str = "127.0.0.1"
    port: int = field(default=9464, metadata=meta(0, 65535))  # 0: no metrics listener
    token: str = ""  # empty: no /metrics on the API port; set: required on both ports
