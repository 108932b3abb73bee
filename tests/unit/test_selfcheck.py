"""Attack review (issue 15): root never runs tazpod from an installation its user can change.

`sudo ~/.tazpod-venv/bin/tazpod` ran, as root, a line any process of the user had added to
the venv's tazpod/__init__.py.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tazpod.errors import ExitCode
from tazpod.sysio import selfcheck

Cli = Callable[..., tuple[int, str, str]]
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")


def _install(base: Path) -> tuple[Path, Path]:
    package = base / "venv" / "lib" / "site-packages" / "tazpod"
    (package / "cli").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "cli" / "main.py").write_text("")
    for path in [base, *base.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return package, Path(sys.executable)


@needs_root
def test_a_root_owned_install_passes(tmp_path: Path) -> None:
    package, python = _install(tmp_path)
    assert selfcheck.unsafe_paths(package, python) == []


@needs_root
def test_a_file_or_directory_the_user_can_change_is_named(tmp_path: Path) -> None:
    package, python = _install(tmp_path)
    os.chown(package / "__init__.py", 1000, 1000)  # the venv in the user's home
    (package / "cli").chmod(0o775)
    os.chown(tmp_path / "venv", 1000, 1000)
    problems = selfcheck.unsafe_paths(package, python)
    assert f"{package / '__init__.py'} (owned by uid 1000)" in problems
    assert f"{package / 'cli'} (writable by group or others)" in problems
    assert f"{tmp_path / 'venv'} (owned by uid 1000)" in problems


def test_root_refuses_to_run_from_an_unsafe_install(
    in_tmp: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    if os.geteuid() != 0:
        monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(
        selfcheck, "unsafe_paths", lambda _p, _i: ["/home/u/venv (owned by uid 1000)"]
    )
    code, _, err = cli("status")
    assert code == ExitCode.PRIVILEGE
    assert "not root's alone: /home/u/venv (owned by uid 1000)" in err
    assert "/opt/tazpod" in err
