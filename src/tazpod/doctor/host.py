"""Checks that need no container: the settings' approval, the vault's files, swap and the
kernel features the enclave uses (a container shares the host's kernel: they hold for both).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tazpod.doctor.model import Check, fail, ok, skipped, warn
from tazpod.sysio.hostfacts import Entry, Swap


def check_trust(state: str, detail: str) -> Check:
    """``state``: approved, never, changed, unknown (tazpod.doctor.service reads it)."""
    name = "settings: approval"
    if state == "approved":
        return ok(name, "config.yaml and secrets.yml are as approved on this machine")
    if state == "never":
        return warn(
            name,
            "this project's settings were never approved on this machine: tazpod acts on"
            " none of them (up, unlock, run refuse) until they are",
            "review .tazpod/config.yaml and secrets.yml, then `tazpod trust`",
        )
    if state == "changed":
        return warn(
            name,
            f"changed since approved ({detail}): a commit or the container may have written"
            " them; tazpod refuses to act on them until approved again",
            "`tazpod trust` shows the changes; approve them only if you made them",
        )
    if state == "in-container":
        return skipped(name, "inside the container: the approval is the host's (run doctor there)")
    return fail(name, f"the approval cannot be read: {detail}", "see the message; `tazpod trust`")


def check_vault_files(entries: Sequence[Entry] | None, owner: tuple[int, int]) -> Check:
    """The vault's directory 0700 and its files 0600, no links, all the workspace owner's."""
    name = "vault: file modes and owners"
    if entries is None:
        return skipped(name, "no vault directory yet (the first `tazpod unlock` makes it)")
    problems = []
    for entry in entries:
        shown = entry.path.name if entry is not entries[0] else str(entry.path)
        if entry.kind == "link":
            problems.append(f"{shown} is a symbolic link")
            continue
        if entry.kind == "other":
            problems.append(f"{shown} is neither file nor directory")
            continue
        if entry.mode & 0o077:
            want = "0700" if entry.kind == "directory" else "0600"
            problems.append(f"{shown} has mode {entry.mode:04o} (want {want})")
        if (entry.uid, entry.gid) != owner:
            problems.append(
                f"{shown} belongs to {entry.uid}:{entry.gid}, not the workspace's owner"
                f" {owner[0]}:{owner[1]}"
            )
    directory = entries[0].path
    if problems:
        return fail(
            name,
            "; ".join(problems[:6])
            + (f" (and {len(problems) - 6} more)" if len(problems) > 6 else ""),
            f"chmod -R go-rwx {directory}; chown -R {owner[0]}:{owner[1]} {directory}"
            " (and remove any link there: the vault's files are never links)",
        )
    return ok(name, f"{directory}: 0700, files 0600, all {owner[0]}:{owner[1]}'s, no links")


def check_swap(areas: Sequence[Swap] | None, backend: str) -> Check:
    """The ram vault's tmpfs can be swapped out (`noswap` is refused in a user namespace)."""
    name = "kernel: swap for the vault's tmpfs"
    if backend != "ram":
        return skipped(name, f"vault.backend is {backend}: its plaintext is on dm-crypt, not tmpfs")
    if areas is None:
        return warn(name, "cannot read /proc/swaps", "check `swapon --show` by hand")
    plain = [
        area.device for area in areas if not _is_ram(area.device) and not _is_mapped(area.device)
    ]
    if plain:
        return warn(
            name,
            f"unencrypted swap is on ({', '.join(plain)}): the open vault's tmpfs pages can be"
            " written to it and stay on disk after the enclave closes",
            "`sudo swapoff -a` (and remove it from /etc/fstab), or encrypt swap"
            " (crypttab: `swap /dev/sdX /dev/urandom swap`)",
        )
    if areas:
        return ok(name, "swap is RAM-backed (zram) or on device-mapper (encrypted, as a rule)")
    return ok(name, "no swap: the open vault stays in RAM")


def _is_ram(device: str) -> bool:
    return Path(device).name.startswith("zram")


def _is_mapped(device: str) -> bool:
    from tazpod.sysio.hostfacts import is_device_mapper

    return is_device_mapper(device)


def check_user_namespaces(max_namespaces: str | None) -> Check:
    name = "kernel: user namespaces"
    if max_namespaces is None:
        return warn(
            name,
            "cannot read user.max_user_namespaces (no user namespaces in this kernel?)",
            "use a kernel built with CONFIG_USER_NS",
        )
    if max_namespaces.strip() == "0":
        return fail(
            name,
            "user.max_user_namespaces is 0: the enclave's user namespace, which keeps"
            " same-uid processes out of /proc/<pid>/root, environ, fd and ptrace, cannot be made",
            "`sudo sysctl -w user.max_user_namespaces=15000` (and in /etc/sysctl.d/)",
        )
    return ok(name, f"available (user.max_user_namespaces = {max_namespaces})")


def check_seccomp_support(status_fields: dict[str, str] | None) -> Check:
    name = "kernel: seccomp"
    if status_fields is None or "Seccomp" not in status_fields:
        return fail(
            name,
            "this kernel has no seccomp: the container's system-call filter does nothing",
            "use a kernel built with CONFIG_SECCOMP_FILTER",
        )
    return ok(name, "seccomp filters are supported")


def check_ptrace_scope(scope: str | None) -> Check:
    name = "kernel: yama ptrace scope"
    if scope is None:
        return ok(name, "no Yama: the enclave's user namespace alone refuses ptrace (as designed)")
    return ok(
        name,
        f"kernel.yama.ptrace_scope = {scope}: ptrace is refused by the enclave's user"
        " namespace whatever this is; a higher value only adds to it",
    )


def check_device_mapper(majors: dict[str, int] | None, backend: str) -> Check:
    name = "kernel: dm-crypt"
    if backend != "luks":
        return skipped(name, f"vault.backend is {backend}: no device-mapper needed")
    if majors is not None and "device-mapper" in majors:
        return ok(name, "device-mapper is loaded (the luks vault's dm-crypt)")
    return fail(
        name,
        "vault.backend is luks, but this kernel has no device-mapper",
        "`sudo modprobe dm_crypt`, or use vault.backend: ram",
    )


def check_cgroups(v2: bool, sys_admin: bool) -> Check:
    name = "kernel: cgroups"
    if v2 or not sys_admin:
        version = "v2" if v2 else "v1"
        return ok(name, f"cgroup {version}; the container holds no CAP_SYS_ADMIN to mount one")
    return warn(
        name,
        "cgroup v1 and a container with CAP_SYS_ADMIN (luks or privileged): v1's"
        " release_agent has taken container root to host root",
        "boot the host with cgroup v2 (systemd.unified_cgroup_hierarchy=1), or use"
        " vault.backend: ram (no CAP_SYS_ADMIN)",
    )
