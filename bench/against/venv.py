"""bench/against/.venv: the comparison app's own environment, made and kept in step with
bench/against/requirements.txt (pinned) on first use."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
VENV = HERE / ".venv"
REQUIREMENTS = HERE / "requirements.txt"


def ensure(venv: Path = VENV, requirements: Path = REQUIREMENTS) -> Path:
    """The environment's python, after (re)installing when the requirements changed."""
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)  # noqa: S603
    stamp = venv / ".installed"
    want = hashlib.sha256(requirements.read_bytes()).hexdigest()
    if not stamp.exists() or stamp.read_text(encoding="utf-8") != want:
        print(f"installing {requirements.name} into {venv} ...", file=sys.stderr, flush=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet",  # noqa: S603
                        "--disable-pip-version-check", "-r", str(requirements)], check=True)
        stamp.write_text(want, encoding="utf-8")
    return python
