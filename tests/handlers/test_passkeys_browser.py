"""Issue 16 item 3: passkeys end to end in headless Chromium, whose own WebAuthn implementation
is the client, with a virtual authenticator (Chrome DevTools Protocol `WebAuthn.enable`,
`WebAuthn.addVirtualAuthenticator`: ctap2, internal transport, resident keys, user
verification). A small page served from the app's origin registers an account and a passkey
through Gatehouse's routes, then signs in passwordless with it (no email), and the refresh
cookie the browser was given renews the session."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import jwt
import pytest
from aiohttp import web

from server.core.config import Config
from server.runtime.embedded_db import free_port
from tests._app import build_app
from tests.handlers._auth import person
from tests.handlers.test_browser_docs import CHROMEDRIVER, CHROMIUM, WAIT

PAGE = Path(__file__).with_name("passkey_page")
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.timeout(120),
    pytest.mark.skipif(not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
                       reason="Debian chromium and chromium-driver are not installed "
                              "(apt-get install chromium chromium-driver)"),
]
AUTHENTICATOR = {"protocol": "ctap2", "transport": "internal", "hasResidentKey": True,
                 "hasUserVerification": True, "isUserVerified": True,
                 "automaticPresenceSimulation": True}


async def _page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(PAGE / request.match_info["name"])


@pytest.fixture
async def site(make_config: Callable[..., Config]) -> AsyncIterator[str]:
    """The real app on http://localhost:<port>, that origin allowed for passkeys (and, for
    the cookie routes' CSRF guard, for CORS), plus the test page on the same origin (a
    route of this test's app only)."""
    port = free_port()
    origin = f"http://localhost:{port}"
    app = build_app(make_config(webauthn={"origins": (origin,)},
                                cors={"allowed_origins": (origin,)}))
    app.router.add_get("/test-passkey/{name:(index.html|passkey.js)}", _page)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield origin
    await runner.cleanup()


def _step(driver: Any, name: str, argument: Any = None) -> Any:
    """Run the page's `name` step (passkey.js) and wait for its answer."""
    return driver.execute_async_script(
        "window.runStep(arguments[0], arguments[1], arguments[arguments.length - 1]);",
        name, argument)


def _ceremonies(origin: str) -> dict[str, Any]:
    """Drive the page: register, then sign in passwordless; what each step answered."""
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    profile = tempfile.mkdtemp(prefix="gh-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)),
                              options=options)
    try:
        driver.set_script_timeout(WAIT)
        driver.get(f"{origin}/test-passkey/index.html")
        WebDriverWait(driver, WAIT).until(ec.presence_of_element_located((By.ID, "status")))
        driver.execute_cdp_cmd("WebAuthn.enable", {})
        added = driver.execute_cdp_cmd("WebAuthn.addVirtualAuthenticator",
                                       {"options": AUTHENTICATOR})
        seen: dict[str, Any] = {}
        seen["register"] = _step(driver, "registerPasskey", person("grace@example.com"))
        seen["held"] = driver.execute_cdp_cmd(
            "WebAuthn.getCredentials", {"authenticatorId": added["authenticatorId"]})
        seen["signin"] = _step(driver, "signInPasswordless")
        seen["refresh"] = _step(driver, "refreshSession")
        return seen
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


class TestPasskeysInChromium:
    async def test_register_then_sign_in_passwordless(self, site: str) -> None:
        # Selenium blocks; the app keeps serving on this event loop meanwhile.
        seen = await asyncio.to_thread(_ceremonies, site)
        register = seen["register"]
        assert register.get("status") == 200, register
        passkey = register["body"]["data"]["passkey"]
        held = seen["held"]["credentials"]
        assert len(held) == 1
        assert held[0]["isResidentCredential"] is True
        assert held[0]["credentialId"].rstrip("=").replace("+", "-").replace("/", "_") \
            == passkey["id"]
        signin = seen["signin"]
        assert signin["status"] == 200, signin
        data = signin["body"]["data"]
        assert data["user"]["email"] == "grace@example.com"
        claims = jwt.decode(data["accessToken"], options={"verify_signature": False})
        assert claims["amr"] == ["hwk"]  # a device-bound key: not backup eligible
        assert seen["refresh"]["status"] == 200, seen["refresh"]
