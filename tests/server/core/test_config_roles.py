"""security.mfa_required_roles (issue 16 item 6) names roles that exist: a misspelt role
would silently require nothing of anyone, so it fails the load, and the start, naming it."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.core.config import load_config
from server.core.config_values import ConfigError
from server.core.roles import ROLES
from tests._process import run_cli, write_config


class TestMfaRequiredRoles:
    def test_known_roles_load(self) -> None:
        env = {"APP__SECURITY__MFA_REQUIRED_ROLES": "admin, moderator"}
        assert load_config(None, env).security.mfa_required_roles == ("admin", "moderator")
        assert load_config(None, {"APP__SECURITY__MFA_REQUIRED_ROLES": ""}) \
            .security.mfa_required_roles == ()

    @pytest.mark.parametrize("value", ["admn", "admin, Moderator", "root"])
    def test_an_unknown_role_fails_naming_it(self, value: str) -> None:
        with pytest.raises(ConfigError) as caught:
            load_config(None, {"APP__SECURITY__MFA_REQUIRED_ROLES": value})
        message = str(caught.value)
        assert message.startswith("security.mfa_required_roles:")
        assert "unknown role" in message
        assert all(role in message for role in ROLES)

    def test_the_users_collection_knows_the_same_roles(self) -> None:
        from models.users import ROLES as MODEL_ROLES
        assert MODEL_ROLES is ROLES

    def test_run_py_refuses_to_start_with_a_misspelt_role(self, tmp_path: Path) -> None:
        config = write_config(tmp_path / "config.yaml",
                              security={"mfa_required_roles": ["admn"]})
        done = run_cli("serve", "--config", str(config), timeout=20)
        assert done.returncode != 0
        assert "security.mfa_required_roles" in done.stderr
        assert "admn" in done.stderr
