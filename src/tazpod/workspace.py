"""The project's files to and from the dev pod's /workspace (engine: kubernetes).

A tar stream over the API's exec stream, in both directions, respecting the
project's .gitignore files (GNU tar's --exclude-vcs-ignores). The vault
directory is never copied either way: the pod's encrypted vault lives in its
workspace volume and is the one in use there (and no plaintext exists on disk
anywhere). Copies add and overwrite; they never delete.

Kubernetes' exec stream cannot signal end-of-input, so the pod reads exactly
the archive's length (`head -c N`) before tar sees the end.
"""

from __future__ import annotations

import shlex
import subprocess
import tempfile
from pathlib import Path

from tazpod.engines.kubernetes import KubernetesEngine, as_user
from tazpod.engines.kubestream import run_capture
from tazpod.errors import EngineError

WORKSPACE = "/workspace"
VAULT = "./.tazpod/vault"
TAR_OPTIONS = ["--exclude-vcs-ignores", f"--exclude={VAULT}", "--exclude=./.tazpod/.cache"]


def _local_tar(args: list[str], what: str, **kwargs: object) -> subprocess.CompletedProcess[bytes]:
    done = subprocess.run(["tar", *args], capture_output=True, check=False, **kwargs)  # type: ignore[call-overload]
    if done.returncode != 0:
        detail = done.stderr.decode(errors="replace").strip().splitlines()
        raise EngineError(f"{what} failed: {detail[-1] if detail else done.returncode}")
    return done  # type: ignore[no-any-return]


def _count(archive: bytes) -> int:
    listing = subprocess.run(["tar", "-tf", "-"], input=archive, capture_output=True, check=False)
    return len([n for n in listing.stdout.splitlines() if n and not n.endswith(b"/")])


def push(engine: KubernetesEngine, pod: str, root: Path, user: str) -> str:
    """Copy ``root`` into the pod's /workspace, as the pod's user; returns a summary."""
    with tempfile.TemporaryFile() as spool:
        _local_tar(
            ["-C", str(root), *TAR_OPTIONS, "-cf", "-", "."], "packing the project", stdout=spool
        )
        spool.seek(0)
        archive = spool.read()
    _claim(engine, pod, user)
    script = f"head -c {len(archive)} | tar -C {WORKSPACE} --no-same-owner --no-overwrite-dir -xf -"
    code, _out, err = run_capture(engine, pod, as_user(["sh", "-c", script], user, None), archive)
    if code != 0:
        raise EngineError(f"unpacking in the pod failed: {err.decode(errors='replace').strip()}")
    return f"{_count(archive)} files ({len(archive) // 1024} KiB)"


def pull(engine: KubernetesEngine, pod: str, root: Path, user: str) -> str:
    """Copy the pod's /workspace into ``root``; returns a summary."""
    options = " ".join(shlex.quote(o) for o in TAR_OPTIONS)
    script = f"tar -C {WORKSPACE} {options} -cf - ."
    code, archive, err = run_capture(engine, pod, as_user(["sh", "-c", script], user, None))
    if code != 0:
        raise EngineError(f"packing the pod's workspace failed: {err.decode(errors='replace')}")
    # GNU tar refuses absolute names and '..', and defers symlinks that could redirect writes.
    _local_tar(["-C", str(root), "--no-same-owner", "-xf", "-"], "unpacking here", input=archive)
    return f"{_count(archive)} files ({len(archive) // 1024} KiB)"


def _claim(engine: KubernetesEngine, pod: str, user: str) -> None:
    """A new volume's root belongs to root: hand /workspace (itself only) to the user."""
    code, _out, err = run_capture(engine, pod, ["chown", f"{user}:", WORKSPACE])
    if code != 0:
        raise EngineError(f"cannot give {WORKSPACE} to {user}: {err.decode(errors='replace')}")


def seeded(engine: KubernetesEngine, pod: str) -> bool:
    """True when the pod's workspace already holds a tazpod project."""
    code, _out, _err = run_capture(engine, pod, ["test", "-f", f"{WORKSPACE}/.tazpod/config.yaml"])
    return code == 0
