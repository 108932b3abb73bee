"""Issue 16, item 8: `tazpod down` does not kill an open enclave's unsaved work unasked."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tazpod import __version__
from tazpod.cli.commands import down
from tazpod.engines.base import LABEL_MANAGED, LABEL_PROJECT, LABEL_VERSION, ContainerInfo
from tazpod.errors import ExitCode
from tazpod.project.config import read_project_config
from tazpod.vault.lock import VaultLock

Cli = Callable[..., tuple[int, str, str]]


class FakeEngine:
    def __init__(self, info: ContainerInfo) -> None:
        self.info = info
        self.removed: list[str] = []

    def find(self, name: str) -> ContainerInfo | None:
        return self.info if name == self.info.name else None

    def remove(self, name: str, purge: bool = False) -> None:
        self.removed.append(name)


def test_down_refuses_while_an_enclave_holds_the_vault(
    in_tmp: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli("init", "base")
    config = read_project_config(in_tmp / ".tazpod" / "config.yaml").config
    labels = {LABEL_MANAGED: "true", LABEL_PROJECT: str(in_tmp), LABEL_VERSION: __version__}
    engine = FakeEngine(ContainerInfo(config.container_name, "id", "running", "img", labels))
    monkeypatch.setattr(down, "engine_for", lambda _context: engine)
    lock = VaultLock(in_tmp / ".tazpod" / "vault")  # what the enclave's supervisor holds
    assert lock.try_acquire()
    try:
        code, _, err = cli("down")
        assert code == ExitCode.VAULT_BUSY and engine.removed == []
        assert "the vault is open in an enclave" in err and "tazpod lock" in err
        code, _, err = cli("down", "--force")
        assert code == 0 and engine.removed == [config.container_name]
    finally:
        lock.release()
    engine.removed.clear()
    assert cli("down")[0] == 0 and engine.removed == [config.container_name]
