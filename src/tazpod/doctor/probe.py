"""Inside the container: find the open enclaves (root), and try to reach into one (anyone).

`tazpod doctor` on the host runs these through `tazpod doctor-probe` with the image's own
root-owned tazpod (`python -I -m tazpod`): first as root, which asks each enclave's door
for its mount point and user and lists the user's processes under its supervisor; then
as the identities that must get nothing, each trying every route at one of those
processes. The output is JSON and holds no content of the enclave's: only pids, paths
and, per route, refused, allowed or absent.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tazpod.sysio import isolation

ROUTES = ("directory", "proc_root", "proc_cwd", "proc_environ", "proc_fd", "proc_mem", "ptrace")
_MOST = 4  # processes per enclave reported (the routes are the same for every one)


def discover() -> dict[str, Any]:
    """As root in the container: every enclave whose door answers, with its mount point,
    its user's uid and that user's processes under its supervisor."""
    import os

    from tazpod.enclave import admission
    from tazpod.enclave.supervisor import peer_uid
    from tazpod.errors import VaultError
    from tazpod.sysio import procs

    enclaves = []
    for door in admission.doors(Path("/workspace/.tazpod/vault")):
        try:
            conn = admission.knock(door, timeout=10.0)
        except VaultError:
            continue
        if conn is None:
            continue
        with conn:
            supervisor, _uid = peer_uid(conn)  # the process that listens at the door
            reply, fds = admission.ask(conn, "namespaces")
        for fd in fds:
            os.close(fd)
        if not reply.get("ok"):
            continue
        uid = int(reply["uid"])
        found = isolation.processes_of(sorted(procs.descendants([supervisor])))
        pids = [pid for pid, owner in found.items() if owner == uid][:_MOST]
        enclaves.append({"mount_point": str(reply["mount_point"]), "uid": uid, "pids": pids})
    return {"enclaves": enclaves}


def attempts(pid: int, mount_point: str) -> dict[str, str]:
    """As the identity under test: each route at the enclave process ``pid``."""
    routes = {
        "directory": isolation.mount_point_listing(mount_point),
        "proc_root": isolation.proc_root(pid, mount_point),
        "proc_cwd": isolation.proc_cwd(pid),
        "proc_environ": isolation.proc_environ(pid),
        "proc_fd": isolation.proc_fd(pid),
        "proc_mem": isolation.proc_mem(pid),
        "ptrace": isolation.ptrace(pid),
    }
    return {name: isolation.attempt(action) for name, action in routes.items()}
