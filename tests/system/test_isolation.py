"""The isolation matrix (docs/security.md): who can reach a secret in an open enclave.

With an enclave open, (a) another uid and (b) the SAME uid outside the enclave
must not read the secret by any route: the directory itself, /proc/<pid>/root,
cwd, environ, fd, mem or ptrace — neither through an enclave process nor through
the supervisor. (c) Root, even without CAP_SYS_PTRACE, owns the enclave's user
namespace and reaches it (root builds the enclave and owns the tazpod that does):
the matrix says so. No process outside the enclave holds a secret value in its
environment.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import Project, User, as_user, wait_for

PROBE = Path(__file__).with_name("probe.py")
SECRET = "matrix-secret-value"


@pytest.fixture
def open_enclave(project: Project, tmp_path: Path) -> Iterator[tuple[Project, int, int]]:
    """An enclave whose process keeps the secret in a file, its cwd, an open fd and
    its environment (a dotenv secret of the vault, delivered as a variable as secrets.yml
    asks: files are the default)."""
    project.set_secrets("delivery:\n  DOTENV_TOKEN: env\n")
    done = project.run("sh", "-c", f'echo "DOTENV_TOKEN={SECRET}" > "$TAZPOD_VAULT/.env-local"')
    assert done.returncode == 0, done.stderr
    ready = project.root / "ready"
    script = (
        f'echo {SECRET} > "$TAZPOD_VAULT/token"; cd "$TAZPOD_VAULT"; touch {ready};'
        " exec sleep 60 < token"
    )
    supervisor = project.start("sh", "-c", script)
    wait_for(lambda: ready.exists() or supervisor.poll() is not None, timeout=30)
    assert supervisor.poll() is None, supervisor.communicate()
    wait_for(lambda: _child_command(supervisor.pid) == "sleep")
    children = subprocess.run(
        ["pgrep", "-P", str(supervisor.pid)], capture_output=True, text=True, check=True
    ).stdout.split()
    assert len(children) == 1
    yield project, supervisor.pid, int(children[0])
    supervisor.terminate()
    supervisor.wait(timeout=30)


def _child_command(pid: int) -> str:
    done = subprocess.run(["pgrep", "-P", str(pid), "-l"], capture_output=True, text=True)
    return done.stdout.split()[-1] if done.stdout.split() else ""


def _probe_copy(tmp_dir: Path) -> Path:
    target = Path("/var/tmp") / f"tazpod-probe-{tmp_dir.name}.py"
    shutil.copy(PROBE, target)
    target.chmod(0o755)
    return target


def _probe(prefix: list[str], pid: int, project: Project, probe: Path) -> dict[str, str]:
    secret = f"{project.secrets}/token"
    done = subprocess.run(
        [*prefix, "/usr/bin/python3", str(probe), str(pid), secret, str(project.secrets), SECRET],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def _as(user: User) -> list[str]:
    return ["setpriv", f"--reuid={user.uid}", f"--regid={user.gid}", "--init-groups", "--"]


ROOT_WITHOUT_PTRACE = ["setpriv", "--bounding-set=-sys_ptrace", "--inh-caps=-sys_ptrace", "--"]
PROC_ROUTES = ("proc_root", "proc_cwd", "proc_environ", "proc_fd", "proc_mem", "ptrace")
SHUT = ("denied", "absent")


def test_matrix(open_enclave: tuple[Project, int, int], other_user: User, tmp_path: Path) -> None:
    project, supervisor, enclave_pid = open_enclave
    probe = _probe_copy(tmp_path)
    try:
        for label, prefix in (("other uid", _as(other_user)), ("same uid", _as(project.user))):
            for target in (enclave_pid, supervisor):
                results = _probe(prefix, target, project, probe)
                assert results["file"] in SHUT and results["directory"] in SHUT, (label, results)
                for route in PROC_ROUTES:
                    assert results[route] == "denied", (label, target, route, results)

        # Root without CAP_SYS_PTRACE owns the enclave's user namespace (it made it, as it
        # makes the enclave): it reaches everything, and the matrix says so. No uid other
        # than root's is the owner: there is no secret owner uid to watch for or take.
        results = _probe(ROOT_WITHOUT_PTRACE, enclave_pid, project, probe)
        assert results["proc_root"] == "leaked", results
        # The supervisor itself is not dumpable (it holds the recipient): even root needs
        # CAP_SYS_PTRACE for it.
        results = _probe(ROOT_WITHOUT_PTRACE, supervisor, project, probe)
        for route in ("proc_root", "proc_cwd", "proc_fd", "proc_mem", "ptrace"):
            assert results[route] == "denied", (route, results)
        environ = _probe(ROOT_WITHOUT_PTRACE, enclave_pid, project, probe)["proc_environ"]
        assert environ == "leaked"
        # ... and no process outside the enclave carries a secret: the supervisor holds none.
        outside = _probe(ROOT_WITHOUT_PTRACE, supervisor, project, probe)["proc_environ"]
        assert outside in ("readable", *SHUT), outside

        # Root with every capability reads everything: documented, not hidden.
        root = _probe([], enclave_pid, project, probe)
        assert root["proc_root"] == "leaked" and root["proc_fd"] == "leaked"
    finally:
        probe.unlink()


def test_tazpods_own_environment_holds_no_secret(project: Project) -> None:
    project.set_secrets("secrets:\n  - {name: T, file: token, env: TOKEN_FILE}\n")
    project.run("sh", "-c", f'echo {SECRET} > "$TAZPOD_VAULT/token"')
    done = project.run("sh", "-c", "cat /proc/self/environ")
    assert done.returncode == 0
    assert SECRET not in done.stdout and f"TOKEN_FILE={project.secrets}/token" in done.stdout


def test_secret_is_readable_inside_and_files_keep_normal_ownership(project: Project) -> None:
    done = project.run(
        "sh", "-c", 'echo x > "$TAZPOD_VAULT/f"; stat -c "%u:%g %a" "$TAZPOD_VAULT/f"'
    )
    assert done.stdout.strip().startswith(f"{project.user.uid}:{project.user.gid} ")


def test_other_user_cannot_join_or_read_vault_files(project: Project, other_user: User) -> None:
    project.run("true")
    done = as_user(other_user, ["cat", str(project.vault_dir / "identity.age")])
    assert done.returncode != 0 and "Permission denied" in done.stderr
