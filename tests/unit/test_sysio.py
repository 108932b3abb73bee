"""The system layer's own helpers, against real child processes (issue 14)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tazpod.errors import PrivilegeError, TazpodError
from tazpod.sysio import environ, procfs
from tazpod.sysio.environ import Inherit, child_env
from tazpod.sysio.run import CannotRun, Child, CommandFailed, output_lines, run
from tazpod.sysio.tools import MissingTool, find_tool, tool

FAILING = (
    "import sys; print('one', file=sys.stderr); print('the cause', file=sys.stderr); sys.exit(3)"
)


def test_a_failing_command_raises_a_typed_error_with_argv_code_and_last_stderr_line() -> None:
    argv = [sys.executable, "-c", FAILING]
    with pytest.raises(CommandFailed) as caught:
        run(argv)
    err = caught.value
    assert isinstance(err, TazpodError)
    assert err.argv == tuple(argv)
    assert err.returncode == 3
    assert err.last_line == "the cause"
    assert err.tail(2) == "one\nthe cause"
    assert err.message == f"{Path(sys.executable).name} exited 3: the cause"


def test_check_false_returns_the_result_and_stdin_reaches_the_child() -> None:
    code = "import sys; data = sys.stdin.read(); print(data.upper()); sys.exit(len(data))"
    done = run([sys.executable, "-c", code], input=b"abc", check=False)
    assert (done.returncode, done.out, done.err) == (3, "ABC\n", "")


def test_a_signal_is_an_exit_code_the_shell_would_show() -> None:
    with pytest.raises(CommandFailed) as caught:
        run([sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGTERM)"])
    assert caught.value.returncode == 128 + 15


def test_a_missing_program_and_a_timeout_are_cannot_run() -> None:
    with pytest.raises(CannotRun, match="cannot run no-such-tazpod-tool"):
        run(["/nonexistent/no-such-tazpod-tool"])
    with pytest.raises(CannotRun, match="timed out"):
        run([sys.executable, "-c", "import time; time.sleep(30)"], timeout=0.2)


def test_pass_fds_and_stdout_to_a_file(tmp_path: Path) -> None:
    read_end, write_end = os.pipe()
    os.write(write_end, b"through a pipe")
    os.close(write_end)
    out = tmp_path / "out"
    try:
        with out.open("wb") as handle:
            run(
                [sys.executable, "-c", f"import os; print(os.read({read_end}, 100).decode())"],
                pass_fds=(read_end,),
                stdout=handle,
            )
    finally:
        os.close(read_end)
    assert out.read_text() == "through a pipe\n"


def test_output_lines_streams_and_keeps_the_tail_of_a_failure() -> None:
    code = "import sys\nfor n in range(10): print(n)\nprint('boom', file=sys.stderr); sys.exit(2)"
    seen: list[str] = []
    with pytest.raises(CommandFailed) as caught:
        for line in output_lines([sys.executable, "-u", "-c", code], keep=3):
            seen.append(line)
    assert seen == [*map(str, range(10)), "boom"]
    assert caught.value.stderr == "8\n9\nboom"
    assert caught.value.last_line == "boom"


def test_a_child_is_read_as_it_writes_and_its_failure_is_typed() -> None:
    code = "import sys; sys.stdout.write(sys.stdin.read() * 2); sys.exit(0)"
    child = Child([sys.executable, "-c", code], stdin=b"ab")
    assert child.stdout.read() == b"abab"
    child.finish()
    failing = Child([sys.executable, "-c", FAILING])
    assert failing.stdout.read() == b""
    with pytest.raises(CommandFailed, match="the cause"):
        failing.finish()


def test_a_child_that_exits_before_reading_its_input_fails_typed_not_with_a_broken_pipe() -> None:
    failing = Child([sys.executable, "-c", FAILING], stdin=b"x" * (1 << 20))  # > a pipe's buffer
    with pytest.raises(CommandFailed) as caught:
        failing.finish()
    assert (caught.value.returncode, caught.value.last_line) == (3, "the cause")


def test_the_child_environment_allowlist_drops_loader_and_interpreter_variables() -> None:
    source = {
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "LC_ALL": "C",
        "LD_PRELOAD": "/tmp/evil.so",
        "LD_LIBRARY_PATH": "/tmp",
        "PYTHONPATH": "/tmp/evil",
        "PYTHONSTARTUP": "/tmp/evil.py",
        "TAR_OPTIONS": "--to-command=sh",
        "AWS_SECRET_ACCESS_KEY": "zq-secret",
    }
    env = child_env({"HOME": "/home/u"}, source=source)
    assert env == {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C", "HOME": "/home/u"}
    assert child_env(allow=("PATH",), allow_prefixes=(), source=source) == {"PATH": "/usr/bin:/bin"}
    assert child_env(inherit=Inherit.EVERYTHING, source=source) == source


def test_run_without_an_environment_gives_only_the_allowlist(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LD_PRELOAD", "")  # empty: set, but loads nothing into the child
    monkeypatch.setenv("PYTHONPATH", "/nonexistent/tazpod-test")
    monkeypatch.setenv("TAZPOD_TEST_SECRET", "zq-secret")
    code = "import os, json; print(json.dumps(sorted(os.environ)))"
    names = run([sys.executable, "-c", code]).out
    assert "LD_PRELOAD" not in names and "PYTHONPATH" not in names
    assert "TAZPOD_TEST_SECRET" not in names


def test_the_enclave_question_has_one_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(environ.VAULT, "/home/u/secrets")
    monkeypatch.setenv(environ.PROJECT, "/workspace")
    monkeypatch.setenv(environ.GHOST_MODE, "1")  # only "true" counts
    assert not environ.in_enclave()
    assert environ.enclave_vault() is None and environ.enclave_project() is None
    monkeypatch.setenv(environ.GHOST_MODE, "true")
    assert environ.in_enclave()
    assert environ.enclave_vault() == "/home/u/secrets"
    assert environ.enclave_project() == "/workspace"
    monkeypatch.setenv(environ.VAULT, "")
    assert environ.enclave_vault() is None


def _program(directory: Path, name: str) -> Path:
    directory.mkdir(exist_ok=True)
    program = directory / name
    program.write_text("#!/bin/sh\nexit 0\n")
    program.chmod(0o755)
    return program


def test_tool_refuses_a_program_found_only_in_a_user_writable_directory(tmp_path: Path) -> None:
    writable = tmp_path / "bin"
    _program(writable, "tazpod-test-tool")
    writable.chmod(0o777)  # writable by anyone (and, as a non-root user, not root's anyway)
    assert find_tool("tazpod-test-tool", directories=(str(writable),)) is None
    with pytest.raises(MissingTool) as caught:
        tool("tazpod-test-tool", directories=(str(writable),))
    assert isinstance(caught.value, PrivilegeError)
    assert "tazpod will not run it as root" in caught.value.message
    assert str(writable / "tazpod-test-tool") in caught.value.message
    with pytest.raises(MissingTool) as missing:
        tool("tazpod-absent-tool", directories=(str(writable),))
    assert missing.value.message == f"tazpod-absent-tool is not installed (looked in {writable})"
    assert missing.value.hint == "install it (Debian/Ubuntu: apt-get install tazpod-absent-tool)"


def test_tool_refuses_a_group_writable_program(tmp_path: Path) -> None:
    directory = tmp_path / "bin"
    program = _program(directory, "tazpod-test-tool")
    program.chmod(0o775)
    assert find_tool("tazpod-test-tool", directories=(str(directory),)) is None


def test_tool_ignores_path_and_finds_root_owned_system_programs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shadow = tmp_path / "shadow"
    _program(shadow, "sh")
    monkeypatch.setenv("PATH", f"{shadow}:{os.environ.get('PATH', '')}")
    found = tool("sh")
    assert found in {f"{d}/sh" for d in ("/usr/sbin", "/usr/bin", "/sbin", "/bin")}
    assert find_tool("sh", on_path=True) == str(shadow / "sh")  # PATH only when asked
    with pytest.raises(MissingTool, match="not found on PATH"):
        tool("no-such-tazpod-tool", on_path=True)


def test_procfs_names_what_it_reads(tmp_path: Path) -> None:
    devices = tmp_path / "devices"
    devices.write_text(
        "Character devices:\n  1 mem\n\nBlock devices:\n  7 loop\n253 device-mapper\n"
    )
    assert procfs.device_majors(devices) == {"mem": 1, "loop": 7, "device-mapper": 253}
    for kind, prefix in (("mnt", "mnt:"), ("user", "user:")):
        fd = procfs.open_own_namespace(kind)
        try:
            assert os.readlink(procfs.fd_path(fd)).startswith(prefix)
        finally:
            os.close(fd)
    with pytest.raises(FileNotFoundError):
        procfs.open_own_namespace("no-such-namespace")


PACKAGE = Path(__file__).parents[2] / "src" / "tazpod"


def test_issue_14_only_sysio_runs_programs_reads_proc_and_answers_in_enclave() -> None:
    offenders = []
    for module in sorted(PACKAGE.rglob("*.py")):
        if module.parent.name == "sysio":
            continue
        text = module.read_text()
        for needle in (
            "import subprocess",
            "from subprocess",
            "os.exec",
            "os.system(",
            "shutil.which(",
            '"/proc',
            "f'/proc",
            '"TAZPOD_GHOST_MODE"',
            '"TAZPOD_CONTAINER"',
        ):
            if needle in text:
                offenders.append(f"{module.relative_to(PACKAGE)}: {needle}")
    assert offenders == []


def test_issue_14_docker_and_podman_do_not_import_each_other() -> None:
    docker = (PACKAGE / "engines" / "docker.py").read_text()
    podman = (PACKAGE / "engines" / "podman.py").read_text()
    assert "tazpod.engines.podman" not in docker
    assert "tazpod.engines.docker" not in podman
