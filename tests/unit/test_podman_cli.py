"""Podman's failures read as before now that sysio runs it (a fake `podman` on PATH)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tazpod.engines.hints import PULL_HINT, RLIMIT_HINT
from tazpod.engines.podman import PodmanEngine
from tazpod.errors import EngineError

FAKE = """#!/bin/sh
case "$1" in
  info) echo '{}'; exit 0 ;;
  start) echo 'Error: crun: setrlimit `RLIMIT_NOFILE`: rlimit exceeded' >&2; exit 125 ;;
  pull) echo 'Trying to pull...' >&2; echo 'Error: pull access denied' >&2; exit 125 ;;
  build) for n in 1 2 3 4 5 6 7; do echo "STEP $n/7: RUN step $n"; echo "output of $n"; done
         echo 'Error: registry down' >&2; exit 1 ;;
esac
exit 0
"""


@pytest.fixture
def podman(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> PodmanEngine:
    directory = tmp_path / "bin"
    directory.mkdir()
    (directory / "podman").write_text(FAKE)
    (directory / "podman").chmod(0o755)
    monkeypatch.setenv("PATH", f"{directory}:/usr/bin:/bin")
    return PodmanEngine()


def test_a_failing_podman_command_names_the_step_the_code_and_the_last_line(
    podman: PodmanEngine,
) -> None:
    with pytest.raises(EngineError) as caught:
        podman.start("c1")
    assert caught.value.message == (
        "cannot start c1: podman start exited 125:"
        " Error: crun: setrlimit `RLIMIT_NOFILE`: rlimit exceeded"
    )
    assert caught.value.hint == RLIMIT_HINT


def test_a_failed_pull_keeps_its_last_line_and_the_registry_hint(podman: PodmanEngine) -> None:
    with pytest.raises(EngineError) as caught:
        podman.pull("example/image", lambda _message: None)
    assert caught.value.message == "cannot pull example/image: Error: pull access denied"
    assert caught.value.hint == PULL_HINT


def test_a_failed_build_shows_its_steps_and_ends_on_its_last_line(
    podman: PodmanEngine, tmp_path: Path
) -> None:
    seen: list[str] = []
    with pytest.raises(EngineError) as caught:
        podman.build(tmp_path, tmp_path / "Dockerfile", "t:1", {"A": "1"}, seen.append)
    assert seen == [f"STEP {n}/7: RUN step {n}" for n in range(1, 8)]  # steps, not every line
    assert caught.value.message == (
        "building t:1 failed: Error: registry down\nthe failing step's last lines:\n"
        "  | output of 7\n  | Error: registry down"
    )
    assert caught.value.hint == PULL_HINT  # "registry" in the log's tail
