"""Live probes against an open enclave in the project's container, from the host.

Root's `tazpod doctor-probe --discover` in the container names the enclave's mount point,
user and processes; then `tazpod doctor-probe --pid ...` runs as the container's user
(the same uid as the enclave, outside it) and as nobody (another uid), and each route
it tries becomes one check: refused or absent is ok, allowed fails. Both run the image's
root-owned tazpod in an isolated interpreter, never anything of the workspace or home.
"""

from __future__ import annotations

import json
from typing import Any

from tazpod.cli.context import Context
from tazpod.doctor.model import Check, fail, ok, skipped, warn
from tazpod.doctor.probe import ROUTES
from tazpod.errors import EngineError

OTHER_UID = "65534:65534"  # nobody
_WHAT = {
    "directory": "list the vault's mount point",
    "proc_root": "read /proc/<pid>/root",
    "proc_cwd": "read /proc/<pid>/cwd",
    "proc_environ": "read /proc/<pid>/environ",
    "proc_fd": "follow /proc/<pid>/fd",
    "proc_mem": "open /proc/<pid>/mem",
    "ptrace": "ptrace (PTRACE_SEIZE)",
}
FIX = (
    "the enclave's user namespace is what refuses this: check `container: capabilities`"
    " (CAP_SYS_PTRACE), the kernel's user namespaces, and that the enclave was opened by"
    " this tazpod (`tazpod lock`, then `tazpod unlock`)"
)


def _json(code: int, out: str, err: str, what: str) -> Any:
    if code != 0:
        detail = err.strip().splitlines()[-1] if err.strip() else f"exit code {code}"
        raise EngineError(f"{what} failed in the container: {detail}")
    try:
        return json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise EngineError(f"{what} gave no answer in the container") from None


def _as(engine: Any, name: str, user: str, inner: list[str]) -> tuple[int, str, str]:
    from tazpod.cli.forwarding import CONTAINER_TAZPOD
    from tazpod.sysio.environ import Inherit, child_env
    from tazpod.sysio.run import run

    command = engine.exec_argv(name, [*CONTAINER_TAZPOD, *inner], user, False, "/")
    # The user's own engine client (DOCKER_HOST, CONTAINER_HOST are the user's).
    done = run(command, env=child_env(inherit=Inherit.EVERYTHING), check=False, timeout=60)
    return done.returncode, done.out, done.err


def probes(context: Context, engine: Any, name: str) -> list[Check]:
    from tazpod.cli.forwarding import as_root

    try:
        found = _json(*as_root(context, engine, name, ["doctor-probe", "--discover"]), "discover")
    except EngineError as err:
        return [skipped("enclave: live probes", f"cannot look for an open enclave: {err.message}")]
    enclaves = [e for e in found.get("enclaves", []) if e.get("pids")]
    if not enclaves:
        return [skipped("enclave: live probes", "no enclave is open in the container")]
    enclave = enclaves[0]
    pid, mount_point = int(enclave["pids"][0]), str(enclave["mount_point"])
    checks = []
    user = context.config.user
    for label, identity in ((f"same uid ({user})", user), ("other uid (nobody)", OTHER_UID)):
        inner = ["doctor-probe", "--pid", str(pid), "--mount-point", mount_point]
        try:
            results = _json(*_as(engine, name, identity, inner), f"the probe as {identity}")
        except EngineError as err:
            checks.append(fail(f"enclave: {label}", err.message, FIX))
            continue
        checks += route_checks(label, pid, results)
    return checks


def route_checks(label: str, pid: int, results: dict[str, str]) -> list[Check]:
    """One check per route: refused or absent is ok, anything else fails; a process that
    ended under the probe (every /proc route absent) proves nothing, and says so."""
    if all(results.get(route) == "absent" for route in ROUTES if route != "directory"):
        return [
            warn(
                f"enclave: {label}",
                f"the enclave's process {pid} ended during the probe: nothing was tested",
                "run `tazpod doctor` again while the enclave runs a command",
            )
        ]
    checks = []
    for route in ROUTES:
        result = str(results.get(route, "not tried"))
        name = f"enclave: {label}: {route}"
        what = _WHAT[route].replace("<pid>", str(pid))
        if result in ("refused", "absent"):
            checks.append(ok(name, f"{what}: {result}"))
        else:
            checks.append(
                fail(name, f"{what}: {result}; a process outside the enclave reaches into it", FIX)
            )
    return checks
