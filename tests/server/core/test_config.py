"""load_config: YAML -> APP__ overrides -> typed, validated dataclasses; errors name the key."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from server.core.config import Config, load_config, with_overrides
from server.core.config_values import ByteSize, ConfigError
from tests.conftest import ROOT, TEST_CONFIG

GOOD_SECRETS = {"APP__JWT__SECRET": "s" * 40, "APP__JWT__REFRESH_SECRET": "r" * 40,
                # Issue 15: production signs with stored keys (EdDSA) sealed under this.
                "APP__JWT__KEY_ENCRYPTION_KEY": "k" * 43}


@pytest.fixture
def write(tmp_path):
    def put(text: str) -> Path:
        path = tmp_path / "config.yaml"
        path.write_text(text, encoding="utf-8")
        return path

    return put


def fails(write, text: str, environ: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(write(text), environ or {})
    return str(caught.value)


class TestShippedFiles:
    def test_root_config_yaml_loads_with_its_defaults(self):
        config = load_config(ROOT / "config.yaml", {})
        assert config.environment == "development"
        assert config.server.port == 3000
        assert config.server.max_body_size == 100 * 1024
        assert config.jwt.access_ttl == timedelta(minutes=15)
        assert config.jwt.refresh_ttl == timedelta(days=7)
        assert config.security.lock_duration == timedelta(hours=2)
        assert config.rate_limit.window == timedelta(minutes=15)
        assert config.mongodb.uri == ""

    def test_root_config_matches_the_dataclass_defaults(self):
        # config.yaml documents the defaults: the two must not drift apart.
        assert load_config(ROOT / "config.yaml", {}) == load_config(None, {})

    def test_test_config_loads(self):
        config = load_config(TEST_CONFIG, {})
        assert config.environment == "test"
        assert config.security.bcrypt_rounds == 4

    def test_no_file_gives_defaults(self):
        assert load_config(None, {}) == Config()

    def test_empty_file_gives_defaults(self, write):
        assert load_config(write(""), {}) == Config()


class TestValues:
    @pytest.mark.parametrize(("text", "expected"), [
        ("500ms", timedelta(milliseconds=500)), ("30s", timedelta(seconds=30)),
        ("15m", timedelta(minutes=15)), ("2h", timedelta(hours=2)), ("7d", timedelta(days=7)),
    ])
    def test_durations(self, write, text, expected):
        assert load_config(write(f"jwt:\n  access_ttl: {text}\n"), {}).jwt.access_ttl == expected

    @pytest.mark.parametrize(("text", "expected"), [
        ("512", 512), ("512b", 512), ("100kb", 102400), ("10mb", 10 * 1024**2), ("1GB", 1024**3),
    ])
    def test_sizes(self, write, text, expected):
        size = load_config(write(f"server:\n  max_body_size: {text}\n"), {}).server.max_body_size
        assert size == expected
        assert isinstance(size, ByteSize)

    @pytest.mark.parametrize(("text", "hops"), [("false", 0), ("true", 1), ("2", 2)])
    def test_trust_proxy_takes_a_bool_or_hops(self, write, text, hops):
        config = load_config(write(f"server:\n  trust_proxy: {text}\n"), {})
        assert config.server.trust_proxy == hops

    def test_mail_from_maps_to_sender(self, write):
        config = load_config(write('mail:\n  from: "Ops <ops@example.com>"\n'), {})
        assert config.mail.sender == "Ops <ops@example.com>"

    def test_lists(self, write):
        config = load_config(write("cors:\n  allowed_origins: [https://a.example]\n"), {})
        assert config.cors.allowed_origins == ("https://a.example",)

    def test_null_text_is_empty(self, write):
        assert load_config(write("mongodb:\n  uri:\n"), {}).mongodb.uri == ""

    def test_sections_are_immutable(self):
        config = load_config(None, {})
        with pytest.raises(AttributeError):
            config.server.port = 1  # type: ignore[misc]


class TestErrorsNameTheKey:
    @pytest.mark.parametrize(("text", "key", "words"), [
        ("jwt:\n  access_ttl: soon\n", "jwt.access_ttl", "duration"),
        ("jwt:\n  access_ttl: 15\n", "jwt.access_ttl", "duration"),
        ("jwt:\n  access_ttl: 15 minutes\n", "jwt.access_ttl", "duration"),
        ("server:\n  max_body_size: lots\n", "server.max_body_size", "size"),
        ("server:\n  max_body_size: 10tb\n", "server.max_body_size", "size"),
        ("server:\n  port: eighty\n", "server.port", "whole number"),
        ("server:\n  port: 80.5\n", "server.port", "whole number"),
        ("server:\n  port: true\n", "server.port", "whole number"),
        ("rate_limit:\n  enabled: maybe\n", "rate_limit.enabled", "true or false"),
        ("rate_limit:\n  enabled: 1\n", "rate_limit.enabled", "true or false"),
        ("jwt:\n  issuer: [a, b]\n", "jwt.issuer", "text"),
        ("cors:\n  allowed_origins: 5\n", "cors.allowed_origins", "list"),
        ("server:\n  prot: 80\n", "server.prot", "unknown key"),
        ("mail:\n  smtp:\n    hots: x\n", "mail.smtp.hots", "unknown key"),
        ("servers:\n  port: 80\n", "servers", "unknown key"),
        ("server: 80\n", "server", "section"),
        ("server:\n  port: 70000\n", "server.port", "at most 65535"),
        ("server:\n  port: -1\n", "server.port", "at least 0"),
        ("mail:\n  smtp:\n    port: 0\n", "mail.smtp.port", "at least 1"),
        ("environment: staging\n", "environment", "development, test, production"),
        ("mail:\n  backend: pigeon\n", "mail.backend", "console, file, smtp"),
        ("logging:\n  format: xml\n", "logging.format", "json, text"),
        ("security:\n  bcrypt_rounds: 3\n", "security.bcrypt_rounds", "at least 4"),
        ("server:\n  header_timeout: 0s\n", "server.header_timeout", "at least 100ms"),
        ("server:\n  body_timeout: 50ms\n", "server.body_timeout", "at least 100ms"),
        ("security:\n  login_attempt_lease: 0s\n", "security.login_attempt_lease",
         "longer than 0s"),
        ("security:\n  failed_login_ttl: 0h\n", "security.failed_login_ttl", "longer than 0s"),
        ("rate_limit:\n  ipv6_prefix: 0\n", "rate_limit.ipv6_prefix", "at least 1"),
        ("rate_limit:\n  ipv6_prefix: 129\n", "rate_limit.ipv6_prefix", "at most 128"),
    ])
    def test_bad_value(self, write, text, key, words):
        message = fails(write, text)
        assert message.startswith(f"{key}:")
        assert words in message
        assert "\n" not in message

    def test_invalid_yaml(self, write):
        message = fails(write, "server:\n  port: [3000\n")
        assert "invalid YAML" in message
        assert "line" in message
        assert "config.yaml" in message

    def test_top_level_must_be_a_mapping(self, write):
        assert "mapping" in fails(write, "- a\n- b\n")

    def test_missing_file(self, tmp_path):
        missing = tmp_path / "nope.yaml"
        with pytest.raises(ConfigError) as caught:
            load_config(missing, {})
        assert str(missing) in str(caught.value)
        assert "cannot read" in str(caught.value)

    def test_yaml_tags_are_not_executed(self, write):
        # safe_load only: a python/object tag is an error, never a call.
        assert "invalid YAML" in fails(write, "server: !!python/object/apply:os.system [id]\n")


class TestEnvironmentOverrides:
    def test_server_port(self, write):
        config = load_config(write("server:\n  port: 3000\n"), {"APP__SERVER__PORT": "8080"})
        assert config.server.port == 8080

    def test_nested_section(self):
        assert load_config(None, {"APP__MAIL__SMTP__PORT": "2525"}).mail.smtp.port == 2525

    def test_list_as_comma_separated_text(self):
        env = {"APP__CORS__ALLOWED_ORIGINS": "https://a.example, https://b.example"}
        origins = load_config(None, env).cors.allowed_origins
        assert origins == ("https://a.example", "https://b.example")

    def test_list_as_yaml_flow(self):
        env = {"APP__CORS__ALLOWED_ORIGINS": "[https://a.example, https://b.example]"}
        assert load_config(None, env).cors.allowed_origins == ("https://a.example",
                                                               "https://b.example")

    def test_typed_like_the_file(self):
        env = {"APP__RATE_LIMIT__ENABLED": "false", "APP__JWT__ACCESS_TTL": "5m",
               "APP__SERVER__MAX_BODY_SIZE": "1mb", "APP__MAIL__FROM": "x@example.com"}
        config = load_config(None, env)
        assert config.rate_limit.enabled is False
        assert config.jwt.access_ttl == timedelta(minutes=5)
        assert config.server.max_body_size == 1024**2
        assert config.mail.sender == "x@example.com"

    def test_keys_are_case_insensitive(self):
        assert load_config(None, {"APP__server__Port": "9000"}).server.port == 9000

    def test_other_variables_are_ignored(self):
        assert load_config(None, {"PORT": "1", "APPX__SERVER__PORT": "2"}) == Config()

    def test_bad_override_names_the_key(self, write):
        assert fails(write, "", {"APP__SERVER__PORT": "http"}).startswith("server.port:")
        assert fails(write, "", {"APP__SERVER__NOPE": "1"}).startswith("server.nope:")
        assert "malformed" in fails(write, "", {"APP__SERVER____PORT": "1"})

    def test_override_beats_the_file(self, write):
        config = load_config(write("environment: production\n"), {
            "APP__ENVIRONMENT": "test"})
        assert config.environment == "test"

    def test_empty_override_clears_text(self, write):
        config = load_config(write("mongodb:\n  uri: mongodb://db\n"), {"APP__MONGODB__URI": ""})
        assert config.mongodb.uri == ""


PROD = {"APP__ENVIRONMENT": "production", "APP__MONGODB__URI": "mongodb://db.internal/"}


class TestProduction:
    def test_good_production_config(self):
        config = load_config(ROOT / "config.yaml", {**PROD, **GOOD_SECRETS})
        assert config.is_production

    def test_default_access_secret_stops_the_start(self):
        with pytest.raises(ConfigError, match=r"^jwt\.secret:"):
            load_config(ROOT / "config.yaml", PROD)

    def test_default_refresh_secret_stops_the_start(self):
        env = {**PROD, "APP__JWT__SECRET": "s" * 40}
        with pytest.raises(ConfigError, match=r"^jwt\.refresh_secret:"):
            load_config(ROOT / "config.yaml", env)

    def test_short_secret_stops_the_start(self):
        env = {**PROD, "APP__JWT__SECRET": "short", "APP__JWT__REFRESH_SECRET": "r" * 40}
        with pytest.raises(ConfigError, match=r"^jwt\.secret:"):
            load_config(ROOT / "config.yaml", env)

    def test_empty_mongodb_uri_stops_the_start(self):
        env = {**GOOD_SECRETS, "APP__ENVIRONMENT": "production"}
        with pytest.raises(ConfigError, match=r"^mongodb\.uri:"):
            load_config(ROOT / "config.yaml", env)

    def test_development_allows_the_defaults(self):
        assert load_config(ROOT / "config.yaml", {}).jwt.secret


class TestProductionWebAuthn:
    """Issue 16 passkeys: production origins are HTTPS, on the relying party's domain."""

    def test_a_real_site(self):
        env = {**PROD, **GOOD_SECRETS, "APP__WEBAUTHN__RP_ID": "example.com",
               "APP__WEBAUTHN__ORIGINS": "[https://example.com, https://id.example.com:8443]"}
        config = load_config(ROOT / "config.yaml", env)
        assert config.webauthn.origins == ("https://example.com", "https://id.example.com:8443")

    @pytest.mark.parametrize(("origin", "says"), [
        ("http://example.com", "must be https"), ("https://example.org", "not on"),
        ("https://badexample.com", "not on")])
    def test_refused_origins(self, origin, says):
        env = {**PROD, **GOOD_SECRETS, "APP__WEBAUTHN__RP_ID": "example.com",
               "APP__WEBAUTHN__ORIGINS": f"[{origin}]"}
        with pytest.raises(ConfigError, match=rf"^webauthn\.origins: .*{says}"):
            load_config(ROOT / "config.yaml", env)

    def test_development_defaults(self):
        config = load_config(ROOT / "config.yaml", {})
        assert (config.webauthn.rp_id, config.webauthn.rp_name, config.webauthn.origins) == (
            "localhost", "Gatehouse", ("http://localhost:3000",))


ANY_ADDRESS = "0.0.0.0"  # noqa: S104 - a config value under test; nothing binds it here


class TestProductionMetrics:
    """Production never serves metrics to anyone who can reach them (issue 13, item 7)."""

    def test_loopback_listener_without_token_is_the_safe_default(self):
        config = load_config(ROOT / "config.yaml", {**PROD, **GOOD_SECRETS})
        assert (config.metrics.host, config.metrics.port, config.metrics.token) == (
            "127.0.0.1", 9464, "")

    # Environment values are YAML scalars: `::` and the empty string need quotes.
    @pytest.mark.parametrize("host", [ANY_ADDRESS, '"::"', '""', "10.0.0.5", "metrics.internal"])
    def test_a_listener_beyond_loopback_needs_the_token(self, host):
        env = {**PROD, **GOOD_SECRETS, "APP__METRICS__HOST": host}
        with pytest.raises(ConfigError, match=r"^metrics\.host: .*APP__METRICS__TOKEN"):
            load_config(ROOT / "config.yaml", env)
        config = load_config(ROOT / "config.yaml", {**env, "APP__METRICS__TOKEN": "m" * 32})
        assert config.metrics.token == "m" * 32

    @pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
    def test_loopback_hosts(self, host):
        env = {**PROD, **GOOD_SECRETS, "APP__METRICS__HOST": host}
        assert load_config(ROOT / "config.yaml", env).metrics.host == host

    def test_no_listener_and_no_token_means_no_metrics_at_all(self):
        env = {**PROD, **GOOD_SECRETS, "APP__METRICS__HOST": ANY_ADDRESS, "APP__METRICS__PORT": "0"}
        assert load_config(ROOT / "config.yaml", env).metrics.port == 0

    def test_short_token_stops_the_start(self):
        env = {**PROD, **GOOD_SECRETS, "APP__METRICS__TOKEN": "short"}
        with pytest.raises(ConfigError, match=r"^metrics\.token:"):
            load_config(ROOT / "config.yaml", env)

    def test_development_allows_anything(self):
        config = load_config(ROOT / "config.yaml", {
            "APP__METRICS__HOST": ANY_ADDRESS, "APP__METRICS__TOKEN": "x"})
        assert config.metrics.host == ANY_ADDRESS


class TestMailClaimLease:
    def test_defaults_outlast_a_delivery(self):
        config = load_config(None, {})
        assert config.mail.claim_lease == timedelta(seconds=90)

    def test_a_lease_a_live_sender_could_outrun_is_refused(self, write):
        # 3 x 1s SMTP + 2 x 2s database = 7s: a 7s claim could end under a live sender.
        message = fails(write, "mail:\n  claim_lease: 7s\n  smtp:\n    timeout: 1s\n")
        assert message.startswith("mail.claim_lease:")
        assert "7s here" in message
        config = load_config(write("mail:\n  claim_lease: 8s\n  smtp:\n    timeout: 1s\n"), {})
        assert config.mail.claim_lease == timedelta(seconds=8)


class TestWithOverrides:
    def test_replaces_fields_of_sections(self):
        config = with_overrides(load_config(None, {}), server={"port": 1}, jwt={"issuer": "x"})
        assert config.server.port == 1
        assert config.jwt.issuer == "x"
        assert config.server.host == "127.0.0.1"

    def test_unknown_field_is_refused(self):
        with pytest.raises(TypeError):
            with_overrides(load_config(None, {}), server={"nope": 1})
