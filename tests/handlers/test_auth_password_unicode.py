"""Issue 13 item 9: passwords are compared in Unicode NFC (NIST SP 800-63B 5.1.1.2), so the
composed and decomposed spellings of one password are the same password, over HTTP; hashes
stored before normalisation keep working and are upgraded at the next sign-in."""

from __future__ import annotations

import base64
import hashlib
import hmac
import unicodedata

import bcrypt
import pytest
from aiohttp.test_utils import TestClient

from tests._app import bearer
from tests.handlers._auth import AUTH, NEW_PASSWORD, db_of, person

# "Crème brûlée" typed on two keyboards: precomposed (NFC) and base letter + combining mark.
NFC = "Cr\u00e8me-br\u00fbl\u00e9e-1"
NFD = unicodedata.normalize("NFD", NFC)
# Two more scripts whose NFC and NFD differ: Hangul syllables and Vietnamese stacked marks.
HANGUL = "\ud55c\uad6d\uc5b4-Pass-1"
VIET = "Vi\u1ec7t-Nam-Pass-1"


async def register_with(client: TestClient, password: str) -> None:  # type: ignore[type-arg]
    resp = await client.post(f"{AUTH}/register", json={**person(), "password": password})
    assert resp.status == 201, await resp.json()
    client.session.cookie_jar.clear()


async def login_status(client: TestClient, password: str) -> int:  # type: ignore[type-arg]
    resp = await client.post(f"{AUTH}/login",
                             json={"email": "ada@example.com", "password": password})
    return resp.status


def old_hash(password: str) -> str:
    """A hash as the service made it before passwords were normalised (raw UTF-8)."""
    digest = hmac.new(b"gatehouse.password.v1", password.encode("utf-8"), hashlib.sha256)
    return bcrypt.hashpw(base64.b64encode(digest.digest()), bcrypt.gensalt(4)).decode()


class TestNormalisedPasswords:
    def test_the_spellings_really_differ(self) -> None:
        for word in (NFC, HANGUL, VIET):
            assert unicodedata.normalize("NFD", word) != word
            assert unicodedata.normalize("NFC", word) == word

    @pytest.mark.parametrize("word", [NFC, HANGUL, VIET])
    @pytest.mark.parametrize("form", ["NFC->NFD", "NFD->NFC"])
    async def test_register_in_one_form_and_sign_in_with_the_other(
            self, client: TestClient, word: str, form: str) -> None:  # type: ignore[type-arg]
        nfd = unicodedata.normalize("NFD", word)
        registered, typed = (word, nfd) if form == "NFC->NFD" else (nfd, word)
        await register_with(client, registered)
        assert await login_status(client, typed) == 200
        assert await login_status(client, registered) == 200
        assert await login_status(client, typed + "x") == 401

    async def test_the_current_password_of_a_change_is_compared_normalised(
            self, client: TestClient) -> None:  # type: ignore[type-arg]
        await register_with(client, NFC)
        resp = await client.post(f"{AUTH}/login",
                                 json={"email": "ada@example.com", "password": NFD})
        token = (await resp.json())["data"]["accessToken"]
        resp = await client.post("/api/v1/users/me/password", headers=bearer(token),
                                 json={"currentPassword": NFD, "newPassword": NEW_PASSWORD})
        assert resp.status == 200, await resp.json()
        assert await login_status(client, NEW_PASSWORD) == 200


class TestHashesFromBefore:
    async def test_an_old_hash_of_a_decomposed_password_still_signs_in_and_is_upgraded(
            self, client: TestClient) -> None:  # type: ignore[type-arg]
        await register_with(client, NFC)
        users = db_of(client).users
        stored = old_hash(NFD)  # the user had typed NFD, hashed as typed
        await users.update_one({"email": "ada@example.com"}, {"$set": {"password": stored}})
        assert await login_status(client, NFD) == 200
        upgraded = (await users.find_one({"email": "ada@example.com"}))["password"]
        assert upgraded != stored
        # After the upgrade both spellings sign in.
        assert await login_status(client, NFC) == 200
        assert await login_status(client, NFD) == 200

    async def test_an_old_hash_of_an_ascii_password_is_left_alone(
            self, client: TestClient) -> None:  # type: ignore[type-arg]
        await register_with(client, NEW_PASSWORD)
        users = db_of(client).users
        stored = old_hash(NEW_PASSWORD)  # ASCII: NFC changes nothing, so neither does login
        await users.update_one({"email": "ada@example.com"}, {"$set": {"password": stored}})
        assert await login_status(client, NEW_PASSWORD) == 200
        assert (await users.find_one({"email": "ada@example.com"}))["password"] == stored
