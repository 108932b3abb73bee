"""Issue 20: `tazpod exec` through the exec API, and its quick path through a ticket.

The engine's replies here are recorded from dockerd 20.10.24 (Debian 12's docker.io),
byte for byte: the exec's 201 with its id, the start's `101 UPGRADED` followed by the
multiplexed stream (stderr's frame first, as it came), the exec's state with its exit
code, a 404's message. The e2e tier runs the same code against the real engine.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tazpod import __version__
from tazpod.engines.docker_exec import Demux
from tazpod.project import exec_ticket
from tests.support.trusting import approve

from .test_container_spec import _engine_socket
from .test_startup_imports import LAUNCHER, _container_name, _imported, _loaded

EXEC_ID = "8dd43cbc2dfd023f83c7732153afa81c7ab4adf602ce6b7737d38765d15fc66a"
CONTAINER_ID = "4f" * 32
HEADERS = (
    b"Api-Version: 1.41\r\nContent-Type: application/json\r\nDocker-Experimental: false\r\n"
    b"Ostype: linux\r\nServer: Docker/20.10.24+dfsg1 (linux)\r\n"
    b"Date: Sun, 06 Dec 2026 09:03:09 GMT\r\n"
)
CREATED = (
    b"HTTP/1.0 201 Created\r\n" + HEADERS + b"Content-Length: 74\r\n\r\n"
    b'{"Id":"' + EXEC_ID.encode() + b'"}\n'
)
STREAM = b"\x02\x00\x00\x00\x00\x00\x00\x02e\n\x01\x00\x00\x00\x00\x00\x00\x02o\n"
UPGRADED = (
    b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\n"
    b"Connection: Upgrade\r\nUpgrade: tcp\r\nApi-Version: 1.41\r\nDocker-Experimental: false\r\n"
    b"Ostype: linux\r\nServer: Docker/20.10.24+dfsg1 (linux)\r\n\r\n" + STREAM
)
STATE = (
    b'{"ID":"' + EXEC_ID.encode() + b'","Running":false,"ExitCode":4,"ProcessConfig":'
    b'{"tty":false,"entrypoint":"sh","arguments":["-c","echo o; echo e >&2; exit 4"],'
    b'"privileged":false,"user":"tazpod"},"OpenStdin":true,"OpenStderr":true,'
    b'"OpenStdout":true,"CanRemove":false,"ContainerID":"' + CONTAINER_ID.encode() + b'",'
    b'"DetachKeys":"","Pid":4242}\n'
)
EXITED = b"HTTP/1.0 200 OK\r\n" + HEADERS + f"Content-Length: {len(STATE)}\r\n\r\n".encode() + STATE
MISSING = b'{"message":"No such container: ' + CONTAINER_ID.encode() + b'"}\n'
NOT_FOUND = (
    b"HTTP/1.0 404 Not Found\r\n"
    + HEADERS
    + f"Content-Length: {len(MISSING)}\r\n\r\n".encode()
    + MISSING
)


def test_the_multiplexed_stream_is_cut_right_wherever_it_is_split() -> None:
    for cut in range(len(STREAM) + 1):
        demux = Demux()
        pieces = [*demux.feed(STREAM[:cut]), *demux.feed(STREAM[cut:])]
        assert pieces == [(2, b"e\n"), (1, b"o\n")], cut
        assert not demux.incomplete


def _running(project: Path, name: str) -> bytes:
    labels = {
        "dev.tazpod.managed": "true",
        "dev.tazpod.project": str(project),
        "dev.tazpod.version": __version__,
    }
    body = json.dumps(
        {
            "Id": CONTAINER_ID,
            "Name": f"/{name}",
            "State": {"Status": "running", "Pid": 0},
            "Config": {"Image": "tazpod-base:x", "Labels": labels},
        }
    ).encode()
    return b"HTTP/1.0 200 OK\r\n" + HEADERS + f"Content-Length: {len(body)}\r\n\r\n".encode() + body


def _replies(project: Path, name: str) -> dict[str, bytes]:
    """The engine with the project's container running, and one exec in it."""
    return {
        f"/containers/{name}/json": _running(project, name),
        f"/containers/{CONTAINER_ID}/exec": CREATED,
        f"/exec/{EXEC_ID}/start": UPGRADED,
        f"/exec/{EXEC_ID}/json": EXITED,
    }


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    init = subprocess.run([str(LAUNCHER), "init", "base"], cwd=root, capture_output=True)
    assert init.returncode == 0, init.stderr
    approve(root)
    return root


def _exec(project: Path, socket_path: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LAUNCHER), "exec", "--", "sh", "-c", "echo o; echo e >&2; exit 4"],
        cwd=project,
        env={**os.environ, "DOCKER_HOST": f"unix://{socket_path}"},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
    )


def test_exec_runs_through_the_api_then_takes_the_quick_path(project: Path, tmp_path: Path) -> None:
    name = _container_name(project)
    replies = _replies(project, name)
    socket_path, seen = _engine_socket(tmp_path, replies)
    first = _exec(project, socket_path)
    assert (first.returncode, first.stdout, first.stderr) == (4, "o\n", "e\n")
    assert seen[0].startswith(f"GET /containers/{name}/json ".encode())  # the full check
    seen.clear()
    second = _exec(project, socket_path)
    assert (second.returncode, second.stdout, second.stderr) == (4, "o\n", "e\n")
    assert not any(b"/json HTTP" in r and b"/containers/" in r for r in seen)  # no lookup
    env = {**os.environ, "DOCKER_HOST": f"unix://{socket_path}"}
    modules, _out = _imported(["exec", "--", "true"], env, project)
    heavy: tuple[str, ...] = ("argparse", "dataclasses", "typing", "pathlib", "subprocess")
    heavy += ("yaml", "ruamel")
    heavy += ("tazpod.project.config", "tazpod.cli.context", "hashlib", "docker", "http")
    assert _loaded(modules, heavy) == []


def test_a_container_gone_since_the_ticket_takes_the_full_path(
    project: Path, tmp_path: Path
) -> None:
    name = _container_name(project)
    replies = _replies(project, name)
    socket_path, _seen = _engine_socket(tmp_path, replies)
    assert _exec(project, socket_path).returncode == 4  # the ticket is written
    replies[f"/containers/{CONTAINER_ID}/exec"] = NOT_FOUND
    replies[f"/containers/{name}/json"] = NOT_FOUND
    done = _exec(project, socket_path)
    assert done.returncode == 9 and "does not exist" in done.stderr, done.stderr


def _ticket_setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    root = tmp_path / "proj"
    (root / ".tazpod").mkdir(parents=True)
    (root / ".tazpod" / "config.yaml").write_text("version: 1\n")
    approval = tmp_path / "state" / "approved.json"
    approval.parent.mkdir()
    approval.write_text("{}")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    seen = exec_ticket.facts(str(root), str(approval))
    exec_ticket.write(seen, "/run/docker.sock", CONTAINER_ID, "tazpod")
    assert exec_ticket.read(str(root), "/run/docker.sock") == (CONTAINER_ID, "tazpod")
    return str(root), str(approval)


def test_any_change_to_the_settings_or_their_approval_voids_the_ticket(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, approval = _ticket_setup(tmp_path, monkeypatch)
    assert exec_ticket.read(root, "/other/docker.sock") is None  # another engine
    config = Path(root, ".tazpod", "config.yaml")
    before = config.stat()
    config.write_text("version: 1\n")  # the same bytes, the same mtime set back ...
    os.utime(config, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert exec_ticket.read(root, "/run/docker.sock") is None  # ... its ctime moved
    root, approval = _ticket_setup(tmp_path / "2", monkeypatch)
    Path(root, "secrets.yml").write_text("secrets: []\n")  # a secrets.yml appeared
    assert exec_ticket.read(root, "/run/docker.sock") is None
    root, approval = _ticket_setup(tmp_path / "3", monkeypatch)
    Path(approval).write_text('{"other": 1}')  # approved anew (or the approval edited)
    assert exec_ticket.read(root, "/run/docker.sock") is None


def test_a_ticket_anyone_else_could_write_is_never_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, _approval = _ticket_setup(tmp_path, monkeypatch)
    where = exec_ticket.ticket_path(root)
    assert where is not None
    os.chmod(where, 0o644)
    assert exec_ticket.read(root, "/run/docker.sock") is None  # (0600 only)
    os.chmod(where, 0o600)
    os.rename(where, where + ".real")
    os.symlink(where + ".real", where)
    assert exec_ticket.read(root, "/run/docker.sock") is None  # never through a link
    os.unlink(where)
    os.rename(where + ".real", where)
    if os.geteuid() == 0:
        os.chown(where, 1000, 1000)
        assert exec_ticket.read(root, "/run/docker.sock") is None  # not the reader's
        os.chown(where, 0, 0)
    assert exec_ticket.read(root, "/run/docker.sock") == (CONTAINER_ID, "tazpod")


def test_no_ticket_lives_inside_the_project_the_container_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cache directory inside the project (a project at ~, say) gets no ticket: the
    container could write one naming another container or user."""
    root = tmp_path / "home"
    (root / ".tazpod").mkdir(parents=True)
    (root / ".tazpod" / "config.yaml").write_text("version: 1\n")
    monkeypatch.setenv("XDG_CACHE_HOME", str(root / ".cache"))
    assert exec_ticket.ticket_path(str(root)) is None
    seen = exec_ticket.facts(str(root), str(tmp_path / "a.json"))
    exec_ticket.write(seen, "/s", CONTAINER_ID, "tazpod")
    assert not (root / ".cache").exists()
    assert exec_ticket.read(str(root), "/s") is None


def test_a_change_made_while_the_full_check_ran_voids_its_ticket(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ticket names the files as they were before they were checked."""
    root = tmp_path / "proj"
    (root / ".tazpod").mkdir(parents=True)
    (root / ".tazpod" / "config.yaml").write_text("version: 1\n")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    seen = exec_ticket.facts(str(root), str(tmp_path / "approved.json"))
    (root / ".tazpod" / "config.yaml").write_text("version: 1\nuser: root\n")  # mid-check
    exec_ticket.write(seen, "/s", CONTAINER_ID, "tazpod")
    assert exec_ticket.read(str(root), "/s") is None
