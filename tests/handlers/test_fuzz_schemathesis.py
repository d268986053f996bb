"""Property-based fuzzing of the whole API from its own OpenAPI document (schemathesis).

The real app listens on a loopback port; `st run` generates requests from
/api-docs/openapi.json (examples, coverage, fuzzing and stateful phases following the
register -> login -> me links) and runs every check: no 5xx, every status and body as
documented, valid data accepted, invalid data rejected. The seed is fixed, so a run is
repeatable. About 900 cases (the coverage phase's boundary and negative values are ~770 of
them; fuzzing is capped at MAX_EXAMPLES per operation) take under a minute here.
The full report is saved to test-artifacts/schemathesis.txt.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

import pytest

from server.core.config import Config
from tests.conftest import ROOT

ST = Path(sys.executable).with_name("st")
CONFIG_FILE = Path(__file__).with_name("fuzz") / "schemathesis.toml"
REPORT = ROOT / "test-artifacts" / "schemathesis.txt"
MAX_EXAMPLES = 10  # per operation in the fuzzing phase
SEED = 20261124
TIME_LIMIT = 240  # seconds; the run takes well under half of this

pytestmark = pytest.mark.skipif(not ST.exists(), reason="schemathesis is not installed")


async def run_schemathesis(base_url: str, config: Config) -> tuple[int, str]:
    """Run `st run` against the app (which keeps serving on this loop); (exit code, output)."""
    env = {**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(ROOT),
           "SCHEMATHESIS_HOOKS": "tests.handlers.fuzz.hooks", "GATEHOUSE_FUZZ_URL": base_url,
           "GATEHOUSE_FUZZ_MONGO_URI": config.mongodb.uri,
           "GATEHOUSE_FUZZ_DATABASE": config.mongodb.database}
    process = await asyncio.create_subprocess_exec(
        str(ST), "--no-color", "--config-file", str(CONFIG_FILE), "run",
        f"{base_url}/api-docs/openapi.json", "--checks", "all", "--workers", "1",
        "--max-examples", str(MAX_EXAMPLES), "--seed", str(SEED),
        "--phases", "examples,coverage,fuzzing,stateful", "--request-timeout", "10",
        "--suppress-health-check", "too_slow,filter_too_much",
        cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    try:
        output, _ = await asyncio.wait_for(process.communicate(), TIME_LIMIT)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    text = output.decode(errors="replace")
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text(text)
    return process.returncode or 0, text


class TestFuzzTheWholeApi:
    async def test_no_5xx_and_every_response_as_documented(self, base_url: str,
                                                            config: Config) -> None:
        code, output = await run_schemathesis(base_url, config)
        tail = output[-6000:]
        assert code == 0, tail
        assert "Selected: 42/42" in output, tail  # 22+JWKS+3 OAuth+6 MFA+1 reset+9 passkey
        generated = re.search(r"(\d+) generated", output)
        assert generated is not None, tail
        assert 300 <= int(generated.group(1)) <= 2000, tail
        assert re.search(r"\d+ generated, \d+ passed", output), tail
        for phase in ("Examples", "Coverage", "Fuzzing", "Stateful"):
            assert f"✅ {phase}" in output, tail
