"""The dev pod on a real cluster: lifecycle, sessions, the enclave inside, workspace sync."""

from __future__ import annotations

import fcntl
import os
import re
import signal
import struct
import subprocess
import termios
import time
from pathlib import Path

from tazpod.errors import ExitCode
from tests.system.ptyutil import PtySession

from .conftest import (
    DevPod,
    as_root_in_pod,
    new_project,
    service_account_kubeconfig,
    tazpod_bin,
)
from .ssh_checks import check_ssh_tools


def _phase(pod: DevPod, kind: str, name: str) -> str:
    return str(pod.api(f"/api/v1/namespaces/default/{kind}/{name}")["status"]["phase"])  # type: ignore[index]


def test_up_exec_enclave_isolation_down_up(devpod: DevPod) -> None:
    (devpod.root / "notes.txt").write_text("from the laptop\n")
    up = devpod.tazpod("up")
    assert up.returncode == 0, up.stderr
    assert "created and started" in up.stdout and "pushed" in up.stdout
    assert _phase(devpod, "pods", devpod.name) == "Running"
    assert _phase(devpod, "persistentvolumeclaims", f"{devpod.name}-workspace") == "Bound"
    pod = devpod.api(f"/api/v1/namespaces/default/pods/{devpod.name}")
    security = pod["spec"]["containers"][0]["securityContext"]  # type: ignore[index]
    # issue 21: tazpod's seccomp profile on the node, and no CAP_SYS_ADMIN
    assert security["capabilities"] == {"drop": ["NET_RAW", "MKNOD"]}
    assert security["seccompProfile"] == {"type": "Localhost", "localhostProfile": "tazpod.json"}
    assert security["allowPrivilegeEscalation"] is False and "privileged" not in security
    status = as_root_in_pod(devpod, "cat /proc/self/status").stdout
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    assert not int(fields["CapEff"], 16) & (1 << 21) and not int(fields["CapBnd"], 16) & (1 << 21)
    assert fields["Seccomp"].strip() == "2"
    cgroup = as_root_in_pod(
        devpod, "mkdir -p /tmp/cg && mount -t cgroup -o memory cgroup /tmp/cg && echo MOUNTED"
    )
    assert cgroup.returncode != 0 and "MOUNTED" not in cgroup.stdout, cgroup
    assert pod["metadata"]["annotations"]["dev.tazpod.project"] == str(devpod.root)  # type: ignore[index]

    assert devpod.tazpod("up").stdout.startswith(f"{devpod.name}: already running")
    whoami = devpod.tazpod("exec", "--", "sh", "-c", "id -un; pwd; cat notes.txt; echo $HOME")
    assert whoami.returncode == 0, whoami.stderr
    assert whoami.stdout == "tazpod\n/workspace\nfrom the laptop\n/home/tazpod\n"
    assert devpod.tazpod("exec", "--", "sh", "-c", "exit 7").returncode == 7

    # The enclave in the pod, opened from here with a passphrase file (sent on stdin).
    opened = devpod.tazpod(
        "run",
        "--passphrase-file",
        str(devpod.passfile),
        "--",
        "sh",
        "-c",
        'echo k8s-secret > "$TAZPOD_VAULT/token"; cat "$TAZPOD_VAULT/token"',
    )
    assert opened.returncode == 0, opened.stderr
    assert opened.stdout == "k8s-secret\n"

    holder = subprocess.Popen(
        [
            tazpod_bin(),
            "run",
            "--passphrase-file",
            str(devpod.passfile),
            "--",
            "sh",
            "-c",
            'cd "$TAZPOD_VAULT" && echo ready && exec sleep 60',
        ],
        cwd=devpod.root,
        env=devpod.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "ready\n"
        probe = (
            "ls -A /home/tazpod/secrets; p=$(pgrep -u tazpod -x sleep | head -1);"
            " cat /proc/$p/root/home/tazpod/secrets/token 2>&1; ls /proc/$p/cwd 2>&1; true"
        )
        outside = devpod.tazpod("exec", "--", "sh", "-c", probe)
        assert outside.returncode == 0, outside.stderr
        assert "k8s-secret" not in outside.stdout
        assert "token" not in outside.stdout.replace("/token", "")
        assert outside.stdout.count("Permission denied") == 2, outside.stdout
    finally:
        holder.send_signal(signal.SIGTERM)
        holder.wait(timeout=60)

    down = devpod.tazpod("down")
    assert down.returncode == 0 and "workspace and vault kept" in down.stdout
    assert devpod.tazpod("status").returncode == 0
    again = devpod.tazpod("up")
    assert again.returncode == 0, again.stderr
    assert "pushed" not in again.stdout  # the volume kept the workspace
    kept = devpod.tazpod(
        "run", "--passphrase-file", str(devpod.passfile), "--", "cat", "/home/tazpod/secrets/token"
    )
    assert kept.returncode == 0 and kept.stdout == "k8s-secret\n", kept.stderr


def _resize(session: PtySession, rows: int, columns: int) -> None:
    fcntl.ioctl(session.fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))


def test_enter_with_a_terminal_and_ssh_tools(devpod: DevPod, tmp_path: Path) -> None:
    assert devpod.tazpod("up").returncode == 0
    session = PtySession([tazpod_bin(), "ssh"], devpod.env(), devpod.root)
    _resize(session, 33, 101)
    session.expect(r"\$ $")
    session.send("stty size; tty\n")
    session.expect("33 101")  # the window size travelled
    _resize(session, 40, 120)  # ... and follows changes (SIGWINCH -> resize channel)
    # The resize travels asynchronously: ask again until the pod's terminal reports it.
    deadline = time.monotonic() + 30
    while True:
        session.send("stty size\n")
        # What the pod's terminal printed: "ROWS COLS" at the end of a line (however many CRs
        # the two terminals on the way add, and after the shell's bracketed-paste codes).
        size = session.expect(r"(\d+ \d+)\r*\n")
        if "40 120" in size or time.monotonic() > deadline:
            break
    assert "40 120" in size, session.output
    session.send("exit 3\n")
    assert session.wait() == 3
    assert "/dev/pts/" in session.output
    check_ssh_tools(devpod, tmp_path)  # issue 18, on this pod (one pod start less)


def test_workspace_push_pull_round_trip(devpod: DevPod) -> None:
    assert devpod.tazpod("up").returncode == 0
    (devpod.root / "src").mkdir()
    (devpod.root / "src" / "app.py").write_text("print('v1')\n")
    (devpod.root / "build").mkdir()
    (devpod.root / "build" / "junk.o").write_text("ignored\n")
    pushed = devpod.tazpod("workspace", "push")
    assert pushed.returncode == 0, pushed.stderr
    listing = devpod.tazpod("exec", "--", "sh", "-c", "ls -A; ls -A .tazpod; cat src/app.py")
    assert "src" in listing.stdout and "build" not in listing.stdout
    assert ".passphrase" not in listing.stdout
    assert "print('v1')" in listing.stdout
    edit = "echo \"print('v2')\" > src/app.py && echo new > src/new.txt && ls -l src"
    assert devpod.tazpod("exec", "--", "sh", "-c", edit).returncode == 0
    owner = devpod.tazpod("exec", "--", "stat", "-c", "%U", "src/app.py").stdout.strip()
    assert owner == "tazpod"
    pulled = devpod.tazpod("workspace", "pull")
    assert pulled.returncode == 0, pulled.stderr
    assert (devpod.root / "src" / "app.py").read_text() == "print('v2')\n"
    assert (devpod.root / "src" / "new.txt").read_text() == "new\n"
    assert not (devpod.root / ".tazpod" / "vault" / "vault.age").exists()


def test_missing_image_and_rbac_are_explained(cluster: object, image: str) -> None:
    missing = new_project(cluster)  # type: ignore[arg-type]
    config = missing.root / ".tazpod" / "config.yaml"
    text = re.sub(r"(?m)^image: .*$", "image: tazpod-missing:0", config.read_text())
    config.write_text(text.replace("image_pull_policy: IfNotPresent", "image_pull_policy: Never"))
    subprocess.run([tazpod_bin(), "trust", "--yes"], cwd=missing.root, check=True)
    try:
        done = missing.tazpod("up", timeout=120)
        assert done.returncode == ExitCode.ENGINE, done.stderr
        assert "cannot pull image tazpod-missing:0" in done.stderr
        assert "push tazpod-missing:0 to a registry" in done.stderr

        limited = service_account_kubeconfig(missing, "tazpod-limited", ["get", "list"])
        env = missing.env() | {"KUBECONFIG": str(limited)}
        denied = subprocess.run(
            [tazpod_bin(), "down", "--purge"],
            cwd=missing.root,
            env=missing.env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert denied.returncode == 0, denied.stderr
        refused = subprocess.run(
            [tazpod_bin(), "up"],
            cwd=missing.root,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert refused.returncode == ExitCode.ENGINE, refused.stderr
        # issue 21, item 6: asked before anything is created, every missing verb named
        assert (
            "may not, in namespace default: pods: create, delete; pods/exec: create, get;"
            " persistentvolumeclaims: get, create, delete (nothing was created)"
        ) in refused.stderr
        assert "resources: [pods/exec], verbs: [create, get]" in refused.stderr  # the Role
    finally:
        missing.tazpod("down", "--purge", timeout=120)


def test_list_status_and_purge(devpod: DevPod) -> None:
    assert devpod.tazpod("up").returncode == 0
    listed = devpod.tazpod("list")
    assert devpod.name in listed.stdout and str(devpod.root) in listed.stdout
    status = devpod.tazpod("status")
    assert "running" in status.stdout and "kubernetes" in status.stdout
    purged = devpod.tazpod("down", "--purge")
    # issue 21: the harness's volumes are Retain, so the vault outlives the claim: said
    assert purged.returncode == 0, purged.stderr
    assert "is kept (reclaim policy Retain)" in purged.stdout, purged.stdout
    deadline = time.monotonic() + 60
    claim = f"/api/v1/namespaces/default/persistentvolumeclaims/{devpod.name}-workspace"
    while devpod.api(claim).get("kind") != "Status" and time.monotonic() < deadline:
        time.sleep(0.5)
    assert devpod.api(claim).get("code") == 404
    assert os.path.isdir(devpod.root)
