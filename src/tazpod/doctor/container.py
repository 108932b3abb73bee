"""The project's container as its engine describes it: privileges, seccomp, user namespace.

The facts come from the engine's own inspect data (Docker's `GET /containers/<id>/json`,
`podman container inspect`), read into ``Facts``; where the host can see the container's
first process, its /proc status adds what the kernel enforces (the bounding set, the
seccomp mode). The checks compare them with what `tazpod up` asks for
(tazpod.engines.devcontainer.spec_for).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tazpod.doctor.model import Check, fail, ok, warn

# Docker's default set (moby's oci/caps/defaults.go); Podman's is a subset of it.
ENGINE_DEFAULT_CAPS = frozenset(
    {
        "AUDIT_WRITE",
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "MKNOD",
        "NET_BIND_SERVICE",
        "NET_RAW",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_CHROOT",
    }
)
TAZPOD_DROPS = frozenset({"NET_RAW", "MKNOD"})
# Bit numbers of capabilities (linux/capability.h), to read /proc's CapBnd.
CAP_BITS = [
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
]
RECREATE = "`tazpod up --replace` recreates the container as tazpod makes it"


@dataclass(frozen=True)
class Facts:
    """What the engine says of the container (capability names without CAP_)."""

    privileged: bool = False
    cap_add: frozenset[str] = frozenset()
    cap_drop: frozenset[str] = frozenset()
    bounding: frozenset[str] | None = None  # the kernel's or the engine's word, where known
    seccomp: str | None = None  # the profile's text, a file's path, "unconfined" or None
    seccomp_mode: str | None = None  # /proc status: 0 none, 1 strict, 2 filter
    no_new_privileges: bool = False
    pid_mode: str = ""
    ipc_mode: str = ""
    userns_mode: str = ""  # the container's own setting ("host": opted out of a remap)


def cap_name(text: str) -> str:
    return text.strip().upper().removeprefix("CAP_")


def caps_from_mask(hex_mask: str) -> frozenset[str]:
    mask = int(hex_mask, 16)
    return frozenset(name for bit, name in enumerate(CAP_BITS) if mask >> bit & 1)


def _security(options: Sequence[str]) -> tuple[str | None, bool]:
    seccomp, no_new = None, False
    for option in options:
        key, sep, value = option.partition("=" if "=" in option else ":")
        if key == "seccomp":
            seccomp = value
        elif key == "no-new-privileges" and (not sep or value in ("true", "1", "")):
            no_new = True
    return seccomp, no_new


def from_inspect(data: Mapping[str, Any]) -> Facts:
    """Docker's or Podman's inspect document of one container (the same keys where they
    agree: HostConfig's; Podman adds BoundingCaps)."""
    host = data.get("HostConfig") or {}
    seccomp, no_new = _security(list(host.get("SecurityOpt") or []))
    bounding = data.get("BoundingCaps")
    return Facts(
        privileged=bool(host.get("Privileged")),
        cap_add=frozenset(cap_name(c) for c in host.get("CapAdd") or []),
        cap_drop=frozenset(cap_name(c) for c in host.get("CapDrop") or []),
        bounding=None if bounding is None else frozenset(cap_name(c) for c in bounding),
        seccomp=seccomp,
        no_new_privileges=no_new,
        pid_mode=str(host.get("PidMode") or ""),
        ipc_mode=str(host.get("IpcMode") or ""),
        userns_mode=str(host.get("UsernsMode") or ""),
    )


def with_status(facts: Facts, status: Mapping[str, str] | None) -> Facts:
    """Add what the kernel says of the container's first process (host's /proc)."""
    if status is None:
        return facts
    bounding = facts.bounding
    if "CapBnd" in status:
        bounding = caps_from_mask(status["CapBnd"])
    return dataclasses.replace(
        facts,
        bounding=bounding,
        seccomp_mode=status.get("Seccomp", facts.seccomp_mode),
        no_new_privileges=facts.no_new_privileges or status.get("NoNewPrivs") == "1",
    )


def allowed_caps(added: Sequence[str]) -> frozenset[str]:
    """What tazpod's container may hold: the engine default minus NET_RAW and MKNOD, plus
    what `up` adds for the project (luks: SYS_ADMIN, and MKNOD for its device nodes)."""
    extra = {cap_name(c) for c in added}
    drops = TAZPOD_DROPS - ({"MKNOD"} if "SYS_ADMIN" in extra else set())
    return (ENGINE_DEFAULT_CAPS - drops) | extra


def check_privileged(facts: Facts) -> Check:
    name = "container: privileged"
    if facts.privileged:
        return fail(
            name,
            "the container runs --privileged: every capability, every device, no seccomp;"
            " container root is host root and the enclave's isolation means nothing",
            f"set `privileged: false` in .tazpod/config.yaml, `tazpod trust`, then {RECREATE}",
        )
    return ok(name, "not privileged")


def check_capabilities(facts: Facts, added: Sequence[str]) -> Check:
    name = "container: capabilities"
    if facts.privileged:
        return fail(name, "privileged: every capability", "see `container: privileged`")
    allowed = allowed_caps(added)
    held = set(facts.cap_add) | set(facts.bounding or ())
    beyond = sorted(held - allowed)
    serious = [c for c in beyond if c not in TAZPOD_DROPS]
    shown = ", ".join(f"CAP_{c}" for c in beyond)
    if serious:
        return fail(
            name,
            f"the container holds {shown} beyond tazpod's own set; CAP_SYS_PTRACE lets"
            " container root (and anything that becomes it) read an enclave's memory,"
            " CAP_SYS_ADMIN mounts and namespaces of the host kernel's",
            f"{RECREATE} (without the engine's --cap-add {' '.join(serious)})",
        )
    if beyond:
        return warn(
            name,
            f"the container keeps {shown}, which tazpod drops (raw sockets, device nodes)",
            RECREATE,
        )
    seen = "the kernel's bounding set" if facts.bounding is not None else "the engine's settings"
    return ok(name, f"tazpod's own set, nothing added ({seen})")


def tazpod_profile(text: str) -> bool:
    from tazpod.engines import seccomp

    try:
        return bool(json.loads(text) == seccomp.profile())
    except ValueError:
        return False


def check_seccomp(facts: Facts) -> Check:
    name = "container: seccomp"
    fix = f"{RECREATE} (with tazpod's seccomp profile)"
    if facts.privileged or facts.seccomp == "unconfined" or facts.seccomp_mode == "0":
        return fail(
            name,
            "no seccomp filter: every system call of the host kernel is open to the container"
            " (keyrings, bpf, io_uring, kernel modules where a capability allows)",
            fix,
        )
    profile = facts.seccomp
    if profile is None:
        return warn(
            name,
            "the engine's default profile, not tazpod's: it refuses the enclave's unshare and"
            " mount without CAP_SYS_ADMIN, or allows calls tazpod's profile refuses",
            fix,
        )
    if profile.lstrip().startswith("{"):
        if tazpod_profile(profile):
            return ok(name, "tazpod's profile (this version's)")
        return warn(name, "a seccomp profile that is not this tazpod's", fix)
    if "/tazpod-seccomp-" in profile:  # Podman keeps the path of the file it was given
        # A name proves nothing (issue 19's review: a file of that name allowing every
        # call passed): the file's content must be this tazpod's profile.
        try:
            with open(profile, encoding="utf-8") as handle:
                content = handle.read(1 << 20)
        except OSError as err:
            return warn(
                name,
                f"Podman was given {profile}, which cannot be read here ({err.strerror}):"
                " its content is not checked",
                fix,
            )
        if tazpod_profile(content):
            return ok(name, "tazpod's profile (the file given to Podman at create)")
        return warn(name, f"{profile}, given to Podman, is not this tazpod's profile", fix)
    return warn(name, f"a seccomp profile from {profile}, not tazpod's", fix)


def check_no_new_privileges(facts: Facts) -> Check:
    name = "container: no-new-privileges"
    if facts.no_new_privileges and not facts.privileged:
        return ok(name, "set: no setuid program can raise a process's privileges")
    return fail(
        name,
        "not set: a setuid program (sudo, su, a planted one) can make the user root, and"
        " container root reads every enclave",
        f"{RECREATE} (--security-opt no-new-privileges:true)",
    )


def check_host_namespaces(facts: Facts) -> Check:
    name = "container: host namespaces"
    shared = [
        kind for kind, mode in (("pid", facts.pid_mode), ("ipc", facts.ipc_mode)) if mode == "host"
    ]
    if shared:
        return fail(
            name,
            f"the container shares the host's {' and '.join(shared)} namespace: host"
            " processes (and their secrets) are in reach, and signals cross",
            f"{RECREATE} (without --{' --'.join(f'{k}=host' for k in shared)})",
        )
    return ok(name, "pid and ipc namespaces of its own")


def check_userns(mode: str, description: str) -> Check:
    """``mode``: remap, rootless or none (the container's root is host root)."""
    name = "container: user namespace"
    if mode == "none":
        return warn(
            name,
            f"{description}; a container escape is then host root",
            "run the engine with a user namespace: Docker's `userns-remap` in daemon.json,"
            " or rootless Podman (`engine: podman` as your own user)",
        )
    return ok(name, f"{mode}: {description}")
