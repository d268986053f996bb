"""Swagger UI in a real headless Chromium: the page renders under our CSP and "Try it out" works."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = ROOT / "test-artifacts"
SCREENSHOT = ARTIFACTS / "swagger-ui.png"  # the list of operations
TRY_IT_OUT = ARTIFACTS / "swagger-ui-try-it-out.png"  # GET /health executed from the page
WAIT = 30

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
                       reason="Debian chromium and chromium-driver are not installed "
                              "(apt-get install chromium chromium-driver)"),
]


def _browser(profile: str, *extra_flags: str) -> Any:
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", f"--user-data-dir={profile}", "--window-size=1280,2600",
                 *extra_flags):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)


def _drive(url: str, *extra_flags: str, shots: bool = True) -> dict[str, Any]:
    """Open /api-docs, expand GET /health, Try it out, Execute; report what the page showed."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    profile = tempfile.mkdtemp(prefix="gh-chromium-")
    driver = _browser(profile, *extra_flags)
    try:
        wait = WebDriverWait(driver, WAIT)
        driver.get(f"{url}/api-docs")
        wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, ".opblock")))
        paths = [e.get_attribute("data-path") for e in
                 driver.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")]
        title = driver.find_element(By.CSS_SELECTOR, ".info .title").text
        if shots:
            ARTIFACTS.mkdir(exist_ok=True)
            driver.save_screenshot(str(SCREENSHOT))
        health = driver.find_element(
            By.CSS_SELECTOR, ".opblock-get .opblock-summary-path[data-path='/health']")
        health.click()
        wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, ".try-out__btn"))).click()
        wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, ".execute"))).click()
        status = wait.until(ec.visibility_of_element_located(
            (By.CSS_SELECTOR, ".live-responses-table tr.response .response-col_status"))).text
        body = driver.find_element(By.CSS_SELECTOR, ".live-responses-table .microlight").text
        if shots:
            driver.save_screenshot(str(TRY_IT_OUT))
        console = [entry["message"] for entry in driver.get_log("browser")]
        return {"paths": paths, "title": title, "status": status, "body": body,
                "console": console}
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


class TestSwaggerUiInChromium:
    async def test_lists_operations_and_try_it_out_succeeds(self, base_url: str) -> None:
        # Selenium blocks; the app under test keeps serving on this event loop meanwhile.
        seen = await asyncio.to_thread(_drive, base_url)
        assert "Gatehouse API" in seen["title"]
        listed = set(seen["paths"])
        assert {"/health", "/health/ready", "/metrics", "/api/v1/auth/register",
                "/api/v1/auth/login", "/api/v1/users/me", "/api/v1/users/{id}"} <= listed
        assert seen["status"].strip() == "200"
        assert '"status": "healthy"' in seen["body"]
        assert SCREENSHOT.stat().st_size > 10_000
        assert TRY_IT_OUT.stat().st_size > 10_000
        # No Content-Security-Policy violation and no failed load on the page.
        assert not [line for line in seen["console"]
                    if "Content Security Policy" in line or "Failed to load" in line], \
            seen["console"]

    async def test_works_over_plain_http_from_a_named_host(self, base_url: str) -> None:
        # Served over HTTP under a name that is not localhost, a page whose CSP says
        # `upgrade-insecure-requests` loads its own scripts over HTTPS and stays blank;
        # the docs page's CSP leaves that directive out. The name resolves to loopback.
        port = base_url.rsplit(":", 1)[1]
        seen = await asyncio.to_thread(
            _drive, f"http://gatehouse.test:{port}",
            "--host-resolver-rules=MAP gatehouse.test 127.0.0.1", shots=False)
        assert "/api/v1/auth/login" in seen["paths"]
        assert seen["status"].strip() == "200"
        assert not [line for line in seen["console"]
                    if "Content Security Policy" in line or "Failed to load" in line], \
            seen["console"]
