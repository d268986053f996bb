"""Third-party verifiers, not our code (issue 15 Must show): a Node process with `jose`
(createRemoteJWKSet + jwtVerify) and a Python process with PyJWT's PyJWKClient verify
tokens of a running Gatehouse through its JWKS URL, keep verifying across `keys rotate`, and
refuse a revoked key's token once their cache (1 s, the JWKS max-age here) refreshes."""

from __future__ import annotations

import json
import select
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests._process import Service, wait_for
from tests._signing import (
    MakeService,
    fresh_database,
    keys_cli,
    kid_of,
    make_service,  # noqa: F401 - fixture
    register,
)

pytestmark = pytest.mark.process
HERE = Path(__file__).parent
NODE_DIR = HERE / "node"
CACHE_S = 1  # the verifiers trust a fetched key set this long (jwt.jwks_max_age in tests)


def node_command() -> list[str]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the jose interop test needs Node.js (18 or later)")
    if not (NODE_DIR / "node_modules" / "jose").is_dir():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("npm is not installed: cannot install tests/interop/node (npm ci)")
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR, check=True,  # noqa: S603
                       capture_output=True, timeout=120)
    return [node, str(NODE_DIR / "verify.mjs")]


class Verifier:
    """A verifier process fed one token per line; its key-set cache lives across tokens."""

    def __init__(self, command: list[str], service: Service, alg: str) -> None:
        args = [f"{service.url}/.well-known/jwks.json", "gatehouse", "gatehouse-api", alg,
                str(CACHE_S * 1000 if command[0].endswith("node") else CACHE_S)]
        self.process = subprocess.Popen(  # noqa: S603 - fixed argv
            [*command, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)

    def verify(self, token: str) -> dict[str, Any]:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(token + "\n")
        self.process.stdin.flush()
        ready, _, _ = select.select([self.process.stdout], [], [], 15)
        if not ready:
            pytest.fail("the verifier did not answer within 15 s")
        line = self.process.stdout.readline()
        if not line:
            pytest.fail(f"the verifier exited: {self.process.stderr.read()}")  # type: ignore[union-attr]
        return json.loads(line)  # type: ignore[no-any-return]

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.communicate(timeout=10)  # reaps it and closes its three pipes


@pytest.fixture(params=["jose (node)", "PyJWKClient (python)"])
def verifier_command(request: pytest.FixtureRequest) -> list[str]:
    if request.param.startswith("jose"):
        return node_command()
    return [sys.executable, str(HERE / "pyjwk_verify.py")]


@pytest.fixture
def verifiers() -> Iterator[list[Verifier]]:
    started: list[Verifier] = []
    yield started
    for verifier in started:
        verifier.close()


@pytest.mark.parametrize("alg", ["EdDSA", "ES256", "RS256"])
def test_verify_across_rotation_and_refuse_after_revocation(
        make_service: MakeService, verifier_command: list[str],  # noqa: F811
        verifiers: list[Verifier], alg: str) -> None:
    service = make_service(fresh_database(), workers=2, jwt={"algorithm": alg}).start()
    verifier = Verifier(verifier_command, service, alg)
    verifiers.append(verifier)
    users = iter(f"user{n}@example.com" for n in range(10))
    first = register(service, next(users))
    answer = verifier.verify(first)
    assert answer["ok"], answer
    assert answer["kid"] == kid_of(first)

    keys_cli(service, "rotate")
    rotated = time.monotonic()
    time.sleep(max(0.0, rotated + 2.3 - time.monotonic()))  # publish-ahead: 2 s
    second = register(service, next(users))
    assert kid_of(second) != kid_of(first)
    answer = verifier.verify(second)  # a kid it has not seen yet: fetched on first sight
    assert answer["ok"], answer
    assert answer["kid"] == kid_of(second)
    assert verifier.verify(first)["ok"]  # the retired key is still published

    keys_cli(service, "revoke", kid_of(second))
    # Refused once Gatehouse has dropped the key (key_refresh) and the verifier's cache of
    # the set has expired (CACHE_S): within a few seconds, never accepted for good.
    refused = wait_for(lambda: not verifier.verify(second)["ok"], 6,
                       "the verifier to refuse the revoked key's token")
    assert refused
    assert verifier.verify(first)["ok"]  # other keys are untouched
