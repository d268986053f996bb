"""Issue 16 items 3 and 7: the account's address is told when a passkey is added or removed
(by name, never a key or token), and the passkey routes log no credential material."""

from __future__ import annotations

from typing import Any

import pytest

from server.core.config import Config, SmtpConfig
from tests._app import bearer
from tests.conftest import SmtpSink
from tests.handlers._auth import PASSWORD, clocked_client, register
from tests.handlers._mail import assert_no_token, mail_to
from tests.handlers._passkeys import PASSKEYS, SoftAuthenticator, add_passkey

ADA = "ada@example.com"


@pytest.fixture
def config(make_config: Any, smtp_config: SmtpConfig) -> Config:
    return make_config(mail={"backend": "smtp", "smtp": smtp_config})  # type: ignore[no-any-return]


class TestNotices:
    async def test_passkey_added_and_removed(self, aiohttp_client: Any, config: Config,
                                             smtp_server: SmtpSink) -> None:
        client, _ = await clocked_client(aiohttp_client, config)
        access = (await register(client))["accessToken"]
        added = await add_passkey(client, access, SoftAuthenticator(), name="Blue key")
        mail = await mail_to(smtp_server, ADA, "A passkey was added to your account")
        assert_no_token(mail)
        assert '"Blue key"' in SmtpSink.parts(mail)[0]
        assert added["id"] not in SmtpSink.parts(mail)[0]
        resp = await client.delete(f"{PASSKEYS}/{added['id']}", headers=bearer(access),
                                   json={"currentPassword": PASSWORD})
        assert resp.status == 200
        mail = await mail_to(smtp_server, ADA, "A passkey was removed from your account")
        assert_no_token(mail)
        assert '"Blue key"' in SmtpSink.parts(mail)[0]
