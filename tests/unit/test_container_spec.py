"""What `tazpod up` asks the engine for: least privilege, mounts, labels, opt-ins."""

from __future__ import annotations

from pathlib import Path

import pytest

from tazpod import __version__
from tazpod.engines import devcontainer as container
from tazpod.engines.devcontainer import luks_devices, spec_for
from tazpod.errors import ConfigError
from tazpod.project.config import read_project_config
from tazpod.project.locate import Project, init_project


def project(tmp_path: Path, extra: str = "") -> tuple[Project, object]:
    init_project(tmp_path, "base", force=False)
    proj = Project(tmp_path)
    if extra:
        proj.config_path.write_text(proj.config_path.read_text() + extra)
    return proj, read_project_config(proj.config_path).config


def test_least_privilege_by_default(tmp_path: Path) -> None:
    proj, config = project(tmp_path)
    spec = spec_for(proj, config, environ={})  # type: ignore[arg-type]
    # The ram enclave is built in a user namespace: no CAP_SYS_ADMIN, tazpod's profile.
    assert spec.cap_add == () and set(spec.cap_drop) == {"NET_RAW", "MKNOD"}
    assert "no-new-privileges:true" in spec.security_opt and not spec.privileged
    assert spec.seccomp is not None and '"unshare"' in spec.seccomp
    assert spec.command == ("sleep", "infinity") and spec.network == "host"
    assert spec.labels["dev.tazpod.project"] == str(tmp_path)
    assert spec.labels["dev.tazpod.version"] == __version__
    assert spec.environment == {"TAZPOD_CONTAINER": "1"}
    targets = {m.target: m.source for m in spec.mounts}
    assert targets == {"/workspace": tmp_path, "/home/tazpod/.gemini": tmp_path / ".gemini"}


def test_privileged_is_an_explicit_opt_in(tmp_path: Path) -> None:
    proj, config = project(tmp_path)
    proj.config_path.write_text(
        proj.config_path.read_text().replace("privileged: false", "privileged: true")
    )
    config = read_project_config(proj.config_path).config
    spec = spec_for(proj, config, environ={})
    assert spec.privileged and spec.cap_add == () and spec.security_opt == ()
    assert spec.seccomp is None


def test_ulimits_and_network(tmp_path: Path) -> None:
    proj, _ = project(tmp_path)
    text = proj.config_path.read_text().replace("network: host", "network: none")
    proj.config_path.write_text(text + "ulimits: [nofile=20000:20000]\n")
    spec = spec_for(proj, read_project_config(proj.config_path).config, environ={})
    assert spec.ulimits == ("nofile=20000:20000",) and spec.network == "none"


def test_x11_only_when_configured_and_available(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    proj, _ = project(tmp_path)
    proj.config_path.write_text(proj.config_path.read_text().replace("x11: false", "x11: true"))
    config = read_project_config(proj.config_path).config
    warnings: list[str] = []
    spec = spec_for(proj, config, environ={}, warn=warnings.append)
    assert "DISPLAY" not in spec.environment and "no X display" in warnings[0]
    sockets = tmp_path / "x11-sockets"
    sockets.mkdir()
    monkeypatch.setattr("tazpod.engines.devcontainer.X11_SOCKETS", sockets)
    auth = tmp_path / "xauth"
    auth.write_text("cookie")
    spec = spec_for(proj, config, environ={"DISPLAY": ":0", "XAUTHORITY": str(auth)})
    assert spec.environment["DISPLAY"] == ":0"
    assert spec.environment["XAUTHORITY"] == "/home/tazpod/.Xauthority"
    mounts = {m.target: (m.source, m.read_only) for m in spec.mounts}
    assert mounts[str(sockets)] == (sockets, True)
    assert mounts["/home/tazpod/.Xauthority"] == (auth, True)


def test_bad_ulimit_is_a_config_error(tmp_path: Path) -> None:
    proj, _ = project(tmp_path)
    proj.config_path.write_text(proj.config_path.read_text() + "ulimits: [lots]\n")
    from tazpod.errors import ConfigError

    with pytest.raises(ConfigError, match="'lots' is not NAME=SOFT"):
        read_project_config(proj.config_path)


@pytest.mark.parametrize(
    ("docker_host", "expected"),
    [
        ("", "/var/run/docker.sock"),
        ("unix:///run/user/1000/docker.sock", "/run/user/1000/docker.sock"),
        ("tcp://127.0.0.1:2375", None),
    ],
)
def test_quick_docker_path_only_for_unix_sockets(
    monkeypatch: pytest.MonkeyPatch, docker_host: str, expected: str | None
) -> None:
    from tazpod.engines.docker_socket import socket_path

    monkeypatch.setenv("DOCKER_HOST", docker_host)
    assert socket_path() == expected


def test_quick_docker_reports_an_unreachable_engine(tmp_path: Path) -> None:
    from tazpod.engines.docker_socket import inspect
    from tazpod.errors import EngineError

    with pytest.raises(EngineError, match="cannot reach the Docker engine"):
        inspect(str(tmp_path / "no.sock"), "c")


PROC_DEVICES = """Character devices:
  1 mem
 10 misc

Block devices:
  7 loop
  8 sd
254 device-mapper
259 blkext
"""


def test_luks_adds_only_loop_and_device_mapper_access(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    devices = tmp_path / "devices"
    devices.write_text(PROC_DEVICES)
    control = tmp_path / "control"
    control.touch()
    wanted = luks_devices(devices, control)
    assert wanted == (
        ["/dev/loop-control", "/dev/mapper/control"],
        ["b 7:* rmw", "b 254:* rmw"],
    )
    monkeypatch.setattr(container, "luks_devices", lambda: wanted)
    (tmp_path / "p").mkdir()
    proj, config = project(tmp_path / "p", "")
    proj.config_path.write_text(
        proj.config_path.read_text().replace("backend: ram", "backend: luks")
    )
    config = read_project_config(proj.config_path).config
    spec = spec_for(proj, config, environ={})
    assert spec.cap_add == ("SYS_ADMIN",) and set(spec.cap_drop) == {"NET_RAW"}
    assert list(spec.devices) == wanted[0] and list(spec.device_cgroup_rules) == wanted[1]
    assert not spec.privileged


def test_luks_without_device_mapper_is_a_clear_error(tmp_path: Path) -> None:
    devices = tmp_path / "devices"
    devices.write_text(PROC_DEVICES.replace("254 device-mapper\n", ""))
    with pytest.raises(ConfigError) as caught:
        luks_devices(devices, tmp_path / "control")
    assert "no device-mapper" in caught.value.message
    assert "modprobe dm_crypt" in (caught.value.hint or "")


def test_issue13_an_engine_that_refuses_the_user_is_not_called_stopped() -> None:
    from tazpod.engines.hints import unreachable_hint

    denied = unreachable_hint(
        "Error while fetching server API version: ('Connection aborted.',"
        " PermissionError(13, 'Permission denied'))"
    )
    assert "usermod -aG docker" in denied and "systemctl" not in denied
    assert "systemctl start docker" in unreachable_hint("No such file or directory")


def test_issue13_build_output_is_steps_and_a_failure_shows_the_step_tail() -> None:
    from tazpod.engines.buildlog import BuildLog

    shown: list[str] = []
    log = BuildLog(shown.append, verbose=False)
    log.feed("Step 1/3 : FROM base\n ---> 1234\n")
    log.feed("Step 2/3 : RUN apt-get install x\n\x1b[91mdebconf: falling back\x1b[0m\n")
    log.feed("E: Unable to locate package x\r\n")
    assert shown == ["Step 1/3 : FROM base", "Step 2/3 : RUN apt-get install x"]
    message = log.failure("tazpod-base:1", "\x1b[31mreturned a non-zero code: 100\x1b[0m")
    assert message.startswith("building tazpod-base:1 failed: returned a non-zero code: 100")
    assert "  | debconf: falling back" in message and "  | E: Unable to locate package x" in message
    assert "\x1b" not in message and "---> 1234" not in message  # only the failing step's
    podman: list[str] = []
    BuildLog(podman.append, verbose=False).feed("STEP 1/2: FROM base\nGetting image\n")
    assert podman == ["STEP 1/2: FROM base"]


def test_issue13_every_line_of_a_diagnostic_is_prefixed() -> None:
    import io

    from tazpod.cli.ui import UI

    err = io.StringIO()
    UI(out=io.StringIO(), err=err).error("first\n  second", hint="do this")
    assert err.getvalue() == "tazpod: first\ntazpod:   second\nhint: do this\n"


def _engine_socket(
    tmp_path: Path, replies: dict[str, bytes] | dict[str, list[bytes]]
) -> tuple[str, list[bytes]]:
    """A Unix socket answering as the Docker engine (Go's net/http) does to HTTP/1.0.

    A target's replies may be a list: given in order, the last one from then on."""
    import socket
    import threading

    path = str(tmp_path / "docker.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(4)
    seen: list[bytes] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                request = b""
                while b"\r\n\r\n" not in request:
                    request += conn.recv(4096)
                head, _, body = request.partition(b"\r\n\r\n")
                length = next(
                    (
                        int(h.split(b":")[1])
                        for h in head.split(b"\r\n")
                        if h.lower().startswith(b"content-length:")
                    ),
                    0,
                )
                while len(body) < length:  # the whole request, as the engine reads it
                    body += conn.recv(65536)
                seen.append(head + b"\r\n\r\n" + body)
                target = request.split(b" ")[1].decode()
                reply = replies[target]
                if isinstance(reply, list):
                    reply = reply.pop(0) if len(reply) > 1 else reply[0]
                conn.sendall(reply)

    threading.Thread(target=serve, daemon=True).start()
    return path, seen


def test_quick_docker_inspect_reads_the_engines_replies(tmp_path: Path) -> None:
    """Replies as dockerd sends them: 200 with Content-Length, 404's JSON message, chunked."""
    from tazpod.engines.docker_socket import inspect
    from tazpod.errors import EngineError

    body = (
        b'{"Id":"0123456789abcdef","Name":"/tazpod-p-1","State":{"Status":"running"},'
        b'"Config":{"Image":"tazpod-base:1","Labels":{"dev.tazpod.project":"/p"}}}'
    )
    ok = b"HTTP/1.0 200 OK\r\nApi-Version: 1.47\r\nContent-Type: application/json\r\n"
    ok += f"Content-Length: {len(body)}\r\n\r\n".encode() + body
    missing = b'{"message":"No such container: gone"}\n'
    not_found = b"HTTP/1.0 404 Not Found\r\nContent-Type: application/json\r\n"
    not_found += f"Content-Length: {len(missing)}\r\n\r\n".encode() + missing
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    chunked += f"{len(body[:10]):x}\r\n".encode() + body[:10] + b"\r\n"
    chunked += f"{len(body[10:]):x}\r\n".encode() + body[10:] + b"\r\n0\r\n\r\n"
    path, seen = _engine_socket(
        tmp_path,
        {
            "/containers/tazpod-p-1/json": ok,
            "/containers/gone/json": not_found,
            "/containers/a%2Fb%20c/json": chunked,
            "/containers/boom/json": b"HTTP/1.0 500 Internal Server Error\r\n\r\n{}",
        },
    )
    info = inspect(path, "tazpod-p-1")
    assert info is not None and info.state == "running" and info.id == "0123456789ab"
    assert info.name == "tazpod-p-1" and info.labels == {"dev.tazpod.project": "/p"}
    assert inspect(path, "gone") is None
    assert inspect(path, "a/b c") == info  # the name is one path segment, percent-encoded
    with pytest.raises(EngineError, match="answered 500 for boom"):
        inspect(path, "boom")
    assert seen[0].startswith(b"GET /containers/tazpod-p-1/json HTTP/1.0\r\n")


def test_seccomp_profile_is_no_wider_than_podmans_default_plus_the_enclave() -> None:
    """Every call tazpod's profile allows unconditionally is one Podman's own default
    profile (containers-common, as the distribution ships it) allows too: the profile
    widens nothing but what the enclave needs, and it keeps bpf, kexec, modules,
    keyrings, io_uring and the new-namespace clone flags out."""
    import json

    from tazpod.engines import seccomp

    reference = Path("/usr/share/containers/seccomp.json")
    if not reference.exists():
        pytest.skip("containers-common's seccomp.json is not installed")
    theirs = json.loads(reference.read_text())
    allowed_there = {
        name
        for rule in theirs["syscalls"]
        if rule["action"] == "SCMP_ACT_ALLOW" and not rule.get("args") and not rule.get("includes")
        for name in rule["names"]
    }
    ours = seccomp.profile()
    unconditional = ours["syscalls"][0]  # type: ignore[index]
    # Calls newer than Debian 12's copy of that profile (Linux 5.18-6.7; Docker's current
    # default allows them), and socket(2), which it allows apart from audit netlink
    # sockets, for which the kernel asks CAP_AUDIT_WRITE anyway.
    newer = {
        "fchmodat2",
        "futex_requeue",
        "futex_wait",
        "futex_waitv",
        "futex_wake",
        "io_pgetevents",
        "io_pgetevents_time64",
        "vmsplice",
        "socket",
    }
    extra = set(unconditional["names"]) - allowed_there
    allowance = set(seccomp.ENCLAVE_ALLOWANCE) | set(seccomp.SSHD_ALLOWANCE)
    assert extra <= allowance | newer, extra
    for kept_out in (
        "bpf",
        "kexec_load",
        "init_module",
        "keyctl",
        "add_key",
        "io_uring_setup",
        "userfaultfd",
        "open_by_handle_at",
        "perf_event_open",
        "clone3",
        "clone",
    ):
        assert kept_out not in unconditional["names"], kept_out
    assert ours["defaultAction"] == "SCMP_ACT_ERRNO"


def test_issue16_the_mount_point_and_bridges_are_anchored_right_in_the_home(
    tmp_path: Path,
) -> None:
    """Each place the enclave mounts on gets an anchor (a read-only tmpfs: a mount point
    cannot be renamed away); a bind mount already holds ~/.gemini. A place deeper in the
    home is refused: the directory above it could be moved (third attack review)."""
    proj, config = project(tmp_path)
    spec = spec_for(proj, config, environ={})  # type: ignore[arg-type]
    home = "/home/tazpod"
    assert spec.anchors == (f"{home}/secrets", f"{home}/.infisical", f"{home}/infisical-keyring")
    text = proj.config_path.read_text().replace("    - ~/.gemini\n", "    - ~/.config/gh\n")
    proj.config_path.write_text(text)
    nested = read_project_config(proj.config_path).config
    with pytest.raises(ConfigError, match=r"vault.bridges ~/.config/gh: in a dev container"):
        spec_for(proj, nested, environ={})
