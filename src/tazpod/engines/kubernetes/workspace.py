"""The project's files to and from the dev pod's /workspace (engine: kubernetes).

A tar stream over the API's exec stream, in both directions, of the files that
`tazpod workspace files` lists on the sending side (.gitignore rules applied as
git applies them, see tazpod.project.gitignore). The vault
directory is never copied either way: the pod's encrypted vault lives in its
workspace volume and is the one in use there (and no plaintext exists on disk
anywhere). Copies add and overwrite; they never delete.

Kubernetes' exec stream cannot signal end-of-input, so the pod reads exactly
the archive's length (`head -c N`) before tar sees the end.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import IO

from tazpod.engines.kubernetes.engine import KubernetesEngine, as_user
from tazpod.engines.kubernetes.stream import run_capture
from tazpod.errors import EngineError
from tazpod.project.gitignore import project_files
from tazpod.sysio.environ import Inherit, child_env
from tazpod.sysio.run import CommandFailed, run
from tazpod.sysio.tools import tool

WORKSPACE = "/workspace"
NEVER_COPIED = (".tazpod/vault",)
LIST_OPTIONS = ["--null", "--no-recursion", "-T", "-"]


def file_list(root: Path) -> bytes:
    """What push sends: NUL-separated paths, .gitignore applied, the vault left out."""
    return b"".join(p.encode() + b"\0" for p in project_files(root, NEVER_COPIED))


def _local_tar(
    args: list[str], what: str, stdin: bytes | None = None, stdout: IO[bytes] | None = None
) -> None:
    try:
        run(_tar(args), input=stdin, stdout=stdout, env=_users_env())
    except CommandFailed as err:
        raise EngineError(f"{what} failed: {err.last_line or err.returncode}") from err


def _tar(args: list[str]) -> list[str]:
    return [tool("tar", on_path=True), *args]  # the user's own tar, on the host


def _users_env() -> dict[str, str]:
    # Host-side, as the user, on the user's files: their whole environment, as any tar
    # they run themselves.
    return child_env(inherit=Inherit.EVERYTHING)


def _count(archive: bytes) -> int:
    listing = run(_tar(["-tf", "-"]), input=archive, env=_users_env(), check=False)
    return len([n for n in listing.stdout.splitlines() if n and not n.endswith(b"/")])


def push(engine: KubernetesEngine, pod: str, root: Path, user: str) -> str:
    """Copy ``root`` into the pod's /workspace, as the pod's user; returns a summary."""
    with tempfile.TemporaryFile() as spool:
        _local_tar(
            ["-C", str(root), *LIST_OPTIONS, "-cf", "-"],
            "packing the project",
            stdin=file_list(root),
            stdout=spool,
        )
        spool.seek(0)
        archive = spool.read()
    _claim(engine, pod, user)
    script = f"head -c {len(archive)} | tar -C {WORKSPACE} --no-same-owner --no-overwrite-dir -xf -"
    code, _out, err = run_capture(engine, pod, as_user(["sh", "-c", script], user, None), archive)
    if code != 0:
        raise EngineError(f"unpacking in the pod failed: {err.decode(errors='replace').strip()}")
    return f"{_count(archive)} files ({len(archive) // 1024} KiB)"


def pull(engine: KubernetesEngine, pod: str, root: Path, user: str, with_git: bool = False) -> str:
    """Copy the pod's /workspace into ``root``; returns a summary.

    The archive is the pod's user's to make: tazpod.engines.kubernetes.receive writes
    it here as hostile input, while it streams in.
    """
    from tazpod.engines.kubernetes.receive import extract
    from tazpod.engines.kubernetes.stream import output_of

    # (The list is the pod's, as is the archive: both are checked here as hostile input.)
    script = (
        f'cd {WORKSPACE} && list="$(mktemp)" && tazpod workspace files --null >"$list"'
        ' && tar --null --no-recursion -T "$list" -cf -; code=$?; rm -f "$list"; exit $code'
    )
    with output_of(engine, pod, as_user(["sh", "-c", script], user, None)) as output:
        try:
            received = extract(output, root, with_git)
        except EngineError:
            # An archive cut short is most often a packing that failed: name that first.
            _packing_succeeded(output.finish(), output.stderr)
            raise
        _packing_succeeded(output.finish(), output.stderr)
    summary = f"{received.files} files, {received.links} links"
    left = len(received.left_out) + received.more_left_out
    if left:  # names as JSON strings: a newline in one cannot start a line of its own
        shown = "; ".join(f"{json.dumps(name)} ({why})" for name, why in received.left_out[:5])
        more = f"; and {left - 5} more" if left > 5 else ""
        summary += f"; left out {left}: {shown}{more}"
    return summary


def _packing_succeeded(code: int, stderr: bytes | bytearray) -> None:
    if code != 0:
        detail = stderr.decode(errors="replace").strip()[-500:]
        raise EngineError(f"packing the pod's workspace failed (exit {code}): {detail}")


def _claim(engine: KubernetesEngine, pod: str, user: str) -> None:
    """A new volume's root belongs to root: hand /workspace (itself only) to the user."""
    code, _out, err = run_capture(engine, pod, ["chown", f"{user}:", WORKSPACE])
    if code != 0:
        raise EngineError(f"cannot give {WORKSPACE} to {user}: {err.decode(errors='replace')}")


def seeded(engine: KubernetesEngine, pod: str) -> bool:
    """True when the pod's workspace already holds a tazpod project."""
    code, _out, _err = run_capture(engine, pod, ["test", "-f", f"{WORKSPACE}/.tazpod/config.yaml"])
    return code == 0
