"""Issue 13 item 21: the `file` mail backend keeps what it writes (links with live tokens)
readable by the service's owner only, whatever the process umask."""

from __future__ import annotations

import asyncio
import os
import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from server.core.config import Config
from tests.handlers._auth import AUTH, person


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    """The loosest umask a service might run under: nothing is masked."""
    before = os.umask(0)
    yield
    os.umask(before)


def _listed(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.eml")) if folder.is_dir() else []


async def mail_files(folder: Path, within: float = 5.0) -> list[Path]:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if found := await asyncio.to_thread(_listed, folder):
            return found
        await asyncio.sleep(0.02)
    pytest.fail(f"no mail file in {folder} within {within}s")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


class TestMailFilePermissions:
    @pytest.mark.usefixtures("permissive_umask")
    @pytest.mark.parametrize("folder_exists", [False, True])
    async def test_only_the_owner_can_read_mail_written_to_disk(
            self, make_client: Callable[..., Any], make_config: Callable[..., Config],
            tmp_path: Path, folder_exists: bool) -> None:
        folder = tmp_path / "spool" / "mail"
        if folder_exists:
            # An operator's folder that anyone may read: the backend tightens it.
            folder.mkdir(parents=True)
            os.chmod(folder, 0o777)  # noqa: S103 - deliberately permissive, see above
        client = await make_client(make_config(mail={"backend": "file",
                                                     "file_dir": str(folder)}))
        resp = await client.post(f"{AUTH}/register", json=person())
        assert resp.status == 201
        files = await mail_files(folder)
        assert [oct(mode(f)) for f in files] == [oct(0o600)]
        assert oct(mode(folder)) == oct(0o700)
        assert not list(folder.glob("*.tmp"))
