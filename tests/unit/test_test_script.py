"""Issue 13: scripts/test reports every tier, and a failed or empty tier fails the run.

The script runs for real with a stand-in venv whose pytest, ruff and mypy only report what
they were asked and exit with the code the test chose.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FAKE_PYTEST = """#!/bin/sh
echo "pytest $*"
tier=$2
eval "rc=\\${FAKE_RC_$tier:-0}"
exit "$rc"
"""


def _script(tmp_path: Path, *args: str, **codes: int) -> subprocess.CompletedProcess[str]:
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True, exist_ok=True)
    for tool in ("python", "pip", "ruff", "mypy"):
        (venv / "bin" / tool).write_text("#!/bin/sh\nexit 0\n")
    (venv / "bin" / "pytest").write_text(FAKE_PYTEST)
    for program in (venv / "bin").iterdir():
        program.chmod(0o755)
    stamp = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()[:16]
    (venv / ".tazpod-stamp").write_text(stamp + "\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAKE_RC_")}
    env.update({f"FAKE_RC_{tier}": str(code) for tier, code in codes.items()})
    env["TAZPOD_VENV"] = str(venv)
    env.pop("CI", None)
    return subprocess.run(
        [str(ROOT / "scripts/test"), *args], env=env, capture_output=True, text=True, timeout=120
    )


def _summary(done: subprocess.CompletedProcess[str]) -> dict[str, str]:
    lines = done.stderr.split("==> summary", 1)[1].splitlines()
    return {line.split()[0]: line.split(None, 1)[1] for line in lines if line.startswith("  ")}


def test_every_tier_is_named_in_the_summary(tmp_path: Path) -> None:
    done = _script(tmp_path, "unit")
    assert done.returncode == 0, done.stderr
    summary = _summary(done)
    assert summary["unit"].startswith("passed") and summary["lint"].startswith("passed")
    for tier in ("system", "e2e", "k8s", "luks", "fresh"):
        assert summary[tier].startswith("not run:"), summary


def test_a_failed_tier_fails_the_run(tmp_path: Path) -> None:
    done = _script(tmp_path, "unit", unit=1)
    assert done.returncode == 1
    assert _summary(done)["unit"].startswith("FAILED: exit 1")


def test_no_tests_collected_is_a_failure(tmp_path: Path) -> None:
    done = _script(tmp_path, "unit", unit=5)
    assert done.returncode == 1
    assert "no tests collected" in _summary(done)["unit"]


def test_pytest_arguments_that_select_nothing_anywhere_fail(tmp_path: Path) -> None:
    done = _script(tmp_path, "unit", "--", "-k", "nothing-matches", unit=5)
    assert done.returncode == 1
    assert "no test selected by: -k nothing-matches" in _summary(done)["unit"]
    assert "selected no test in any tier" in done.stderr


def test_a_killed_run_fails_and_names_what_did_not_run(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    _script(tmp_path, "unit")  # makes the stand-in venv
    (venv / "bin" / "pytest").write_text("#!/bin/sh\nkill -TERM $PPID\nsleep 1\n")
    done = subprocess.run(
        [str(ROOT / "scripts/test"), "unit"],
        env={**os.environ, "TAZPOD_VENV": str(venv)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert _summary(done)["unit"].startswith("FAILED: not run, the script stopped"), done.stderr
    assert "==> passed" not in done.stderr
