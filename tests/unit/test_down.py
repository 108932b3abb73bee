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
        self.door = "closed"  # what root's `tazpod lock --check` in the container says
        self.asked: list[list[str]] = []

    def exec_argv(
        self, name: str, argv: list[str], user: str, tty: bool, workdir: str | None
    ) -> list[str]:
        self.asked.append([name, user, *argv])
        return ["echo", self.door]

    def find(self, name: str) -> ContainerInfo | None:
        return self.info if name == self.info.name else None

    def remove(self, name: str, purge: bool = False) -> None:
        self.removed.append(name)


def _project_with_container(
    root: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch, state: str = "running"
) -> FakeEngine:
    """A project, and a fake engine that has its container (in ``state``) for `down`."""
    if not (root / ".tazpod").exists():
        assert cli("init", "base")[0] == 0
    config = read_project_config(root / ".tazpod" / "config.yaml").config
    labels = {LABEL_MANAGED: "true", LABEL_PROJECT: str(root), LABEL_VERSION: __version__}
    engine = FakeEngine(ContainerInfo(config.container_name, "id", state, "img", labels))
    monkeypatch.setattr(down, "engine_for", lambda _context: engine)
    return engine


def test_down_refuses_while_an_enclave_holds_the_vault(
    in_tmp: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = _project_with_container(in_tmp, cli, monkeypatch)
    config = engine.info
    lock = VaultLock(in_tmp / ".tazpod" / "vault")  # what the enclave's supervisor holds
    assert lock.try_acquire()
    try:
        code, _, err = cli("down")
        assert code == ExitCode.VAULT_BUSY and engine.removed == []
        assert "the vault is open in an enclave" in err and "tazpod lock" in err
        code, _, err = cli("down", "--force")
        assert code == 0 and engine.removed == [config.name]
    finally:
        lock.release()
    engine.removed.clear()
    assert cli("down")[0] == 0 and engine.removed == [config.name]


def test_issue16_down_asks_the_enclaves_door_when_the_lock_file_was_renamed(
    in_tmp: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Attack review: uid 1000 renamed .tazpod/vault/.lock, so the flock the host sees is
    on another name; root in the container still finds the enclave's door answering."""
    engine = _project_with_container(in_tmp, cli, monkeypatch)
    lock = VaultLock(in_tmp / ".tazpod" / "vault")
    assert lock.try_acquire()
    (in_tmp / ".tazpod" / "vault" / ".lock").rename(in_tmp / ".tazpod" / "vault" / ".lock.old")
    engine.door = "open"
    try:
        code, _, err = cli("down")
        assert code == ExitCode.VAULT_BUSY and engine.removed == [], err
        assert engine.asked[-1][1] == "0" and engine.asked[-1][-2:] == ["lock", "--check"]
    finally:
        lock.release()


def test_down_refuses_when_root_in_the_container_gives_no_clear_answer(
    in_tmp: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Code review: an image whose tazpod cannot answer `lock --check` is no "closed"."""
    engine = _project_with_container(in_tmp, cli, monkeypatch)
    config = engine.info
    engine.door = "usage: tazpod lock [-h]"
    code, _, err = cli("down")
    assert code == ExitCode.VAULT_BUSY and engine.removed == [] and "cannot tell" in err
    assert cli("down", "--force")[0] == 0 and engine.removed == [config.name]
    stopped = _project_with_container(in_tmp, cli, monkeypatch, state="exited")
    assert cli("down")[0] == 0 and stopped.asked == []  # nothing runs: nothing to ask
