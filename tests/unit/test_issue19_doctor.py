"""Issue 19 (part 6): `tazpod doctor`'s check logic, fed the engines' real inspect shapes.

The Docker documents are what `GET /containers/<id>/json` returned for a container made
from tazpod's create body (HostConfig's keys as the daemon fills them); the Podman ones
what `podman container inspect` returned for one made as `tazpod up` makes it, here
with `--cap-add SYS_PTRACE`; the CapBnd masks are read from such containers' /proc.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tazpod.doctor import container, host, live, model
from tazpod.doctor.probe import ROUTES
from tazpod.engines import seccomp
from tazpod.sysio import hostfacts, isolation


def docker_inspect(**host_config: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "CapAdd": None,
        "CapDrop": ["NET_RAW", "MKNOD"],
        "CgroupnsMode": "host",
        "Init": True,
        "IpcMode": "private",
        "NetworkMode": "host",
        "PidMode": "",
        "Privileged": False,
        "SecurityOpt": ["no-new-privileges:true", "seccomp=" + seccomp.profile_json()],
        "UsernsMode": "",
    }
    return {"Name": "/tazpod-x-1234567", "State": {"Pid": 4242}, "HostConfig": base | host_config}


PODMAN_WEAKENED: dict[str, Any] = {
    "Name": "tazpod-x-1234567",
    "EffectiveCaps": [
        "CAP_CHOWN",
        "CAP_DAC_OVERRIDE",
        "CAP_FOWNER",
        "CAP_FSETID",
        "CAP_KILL",
        "CAP_NET_BIND_SERVICE",
        "CAP_SETFCAP",
        "CAP_SETGID",
        "CAP_SETPCAP",
        "CAP_SETUID",
        "CAP_SYS_CHROOT",
        "CAP_SYS_PTRACE",
    ],
    "BoundingCaps": [
        "CAP_CHOWN",
        "CAP_DAC_OVERRIDE",
        "CAP_FOWNER",
        "CAP_FSETID",
        "CAP_KILL",
        "CAP_NET_BIND_SERVICE",
        "CAP_SETFCAP",
        "CAP_SETGID",
        "CAP_SETPCAP",
        "CAP_SETUID",
        "CAP_SYS_CHROOT",
        "CAP_SYS_PTRACE",
    ],
    "HostConfig": {
        "CapAdd": ["CAP_SYS_PTRACE"],
        "CapDrop": ["CAP_AUDIT_WRITE", "CAP_MKNOD", "CAP_NET_RAW"],
        "Privileged": False,
        "SecurityOpt": ["no-new-privileges", "seccomp=/tmp/tazpod-seccomp-k2x9.json"],
        "UsernsMode": "",
        "PidMode": "private",
        "IpcMode": "shareable",
    },
}
# /proc/<pid>/status of the first process: Docker's default set minus NET_RAW and MKNOD,
# and the same with --cap-add SYS_PTRACE (read from real containers).
TAZPOD_CAPBND = "00000000a00405fb"
PTRACE_CAPBND = "00000000a00c05fb"


def status(capbnd: str, seccomp_mode: str = "2", nnp: str = "1") -> dict[str, str]:
    return {"CapBnd": capbnd, "Seccomp": seccomp_mode, "NoNewPrivs": nnp}


def checks_of(facts: container.Facts, added: tuple[str, ...] = ()) -> dict[str, model.Check]:
    found = [
        container.check_privileged(facts),
        container.check_capabilities(facts, added),
        container.check_seccomp(facts),
        container.check_no_new_privileges(facts),
        container.check_host_namespaces(facts),
    ]
    return {check.name: check for check in found}


def test_issue19_tazpods_own_docker_container_passes() -> None:
    facts = container.with_status(container.from_inspect(docker_inspect()), status(TAZPOD_CAPBND))
    found = checks_of(facts)
    assert {c.state for c in found.values()} == {model.OK}, found
    assert "this version's" in found["container: seccomp"].explanation
    assert "bounding set" in found["container: capabilities"].explanation


def test_issue19_sys_ptrace_added_through_docker_fails_naming_it() -> None:
    facts = container.from_inspect(docker_inspect(CapAdd=["SYS_PTRACE"]))
    check = container.check_capabilities(facts, ())
    assert check.state == model.FAIL
    assert "CAP_SYS_PTRACE" in check.explanation and "SYS_PTRACE" in check.fix
    # the kernel's word alone (a daemon whose default set grew) says the same
    only_kernel = container.with_status(
        container.from_inspect(docker_inspect()), status(PTRACE_CAPBND)
    )
    assert container.check_capabilities(only_kernel, ()).state == model.FAIL


def test_issue19_podman_inspect_with_sys_ptrace_fails_and_its_profile_path_counts() -> None:
    facts = container.from_inspect(PODMAN_WEAKENED)
    assert facts.bounding is not None and "SYS_PTRACE" in facts.bounding
    found = checks_of(facts)
    assert found["container: capabilities"].state == model.FAIL
    assert "CAP_SYS_PTRACE" in found["container: capabilities"].explanation
    # Podman names only the file it was given: a file that is gone is not "ok" ...
    assert found["container: seccomp"].state == model.WARN
    assert found["container: no-new-privileges"].state == model.OK
    assert found["container: host namespaces"].state == model.OK
    tazpods = dict(PODMAN_WEAKENED, BoundingCaps=PODMAN_WEAKENED["BoundingCaps"][:-1])
    tazpods["HostConfig"] = dict(PODMAN_WEAKENED["HostConfig"], CapAdd=None)
    assert container.check_capabilities(container.from_inspect(tazpods), ()).state == model.OK


def test_issue19_podmans_profile_file_counts_by_its_content_not_its_name(tmp_path: Path) -> None:
    """Issue 19's review: a file named like tazpod's, allowing every call, passed."""
    weak = tmp_path / "tazpod-seccomp-weak.json"
    weak.write_text('{"defaultAction": "SCMP_ACT_ALLOW"}')
    good = tmp_path / "tazpod-seccomp-0123456789abcdef.json"
    good.write_text(seccomp.profile_json())
    for path, state in ((weak, model.WARN), (good, model.OK)):
        config = dict(PODMAN_WEAKENED["HostConfig"], SecurityOpt=[f"seccomp={path}"])
        facts = container.from_inspect(dict(PODMAN_WEAKENED, HostConfig=config))
        assert container.check_seccomp(facts).state == state, path


def test_issue19_luks_may_hold_sys_admin_and_mknod_but_nothing_else() -> None:
    luks = container.from_inspect(docker_inspect(CapAdd=["SYS_ADMIN"], CapDrop=["NET_RAW"]))
    assert container.check_capabilities(luks, ("SYS_ADMIN",)).state == model.OK
    assert container.check_capabilities(luks, ()).state == model.FAIL


def test_issue19_kept_net_raw_only_warns() -> None:
    kept = container.from_inspect(docker_inspect(CapDrop=["MKNOD"]))
    kept = container.with_status(kept, status("00000000a00425fb"))  # bit 13: NET_RAW
    check = container.check_capabilities(kept, ())
    assert check.state == model.WARN and "CAP_NET_RAW" in check.explanation


def test_issue19_privileged_unconfined_and_foreign_profiles() -> None:
    privileged = container.from_inspect(docker_inspect(Privileged=True, SecurityOpt=None))
    found = checks_of(privileged)
    assert found["container: privileged"].state == model.FAIL
    assert found["container: seccomp"].state == model.FAIL
    assert found["container: no-new-privileges"].state == model.FAIL
    unconfined = container.from_inspect(
        docker_inspect(SecurityOpt=["no-new-privileges:true", "seccomp=unconfined"])
    )
    assert container.check_seccomp(unconfined).state == model.FAIL
    default = container.from_inspect(docker_inspect(SecurityOpt=["no-new-privileges:true"]))
    assert container.check_seccomp(default).state == model.WARN
    other = json.loads(seccomp.profile_json())
    other["defaultAction"] = "SCMP_ACT_ALLOW"
    foreign = container.from_inspect(docker_inspect(SecurityOpt=["seccomp=" + json.dumps(other)]))
    assert container.check_seccomp(foreign).state == model.WARN
    assert container.check_no_new_privileges(foreign).state == model.FAIL
    # the kernel's word overrides the configuration's: no filter on the process
    off = container.with_status(container.from_inspect(docker_inspect()), status("0", "0"))
    assert container.check_seccomp(off).state == model.FAIL


def test_issue19_host_pid_namespace_fails() -> None:
    shared = container.from_inspect(docker_inspect(PidMode="host"))
    check = container.check_host_namespaces(shared)
    assert check.state == model.FAIL and "--pid=host" in check.fix


def test_issue19_user_namespace_modes() -> None:
    none = container.check_userns("none", "none: container root is host root")
    assert none.state == model.WARN and "userns-remap" in none.fix
    assert container.check_userns("rootless", "container root is host uid 1000").state == model.OK


def test_issue19_caps_from_mask_reads_the_kernels_bits() -> None:
    assert container.caps_from_mask(PTRACE_CAPBND) - container.caps_from_mask(TAZPOD_CAPBND) == {
        "SYS_PTRACE"
    }
    assert container.caps_from_mask(TAZPOD_CAPBND) == container.allowed_caps(())


def test_issue19_trust_states() -> None:
    assert host.check_trust("approved", "").state == model.OK
    assert host.check_trust("never", "").state == model.WARN
    changed = host.check_trust("changed", "image, vault.backend")
    assert changed.state == model.WARN and "vault.backend" in changed.explanation
    assert "tazpod trust" in changed.fix
    assert host.check_trust("unknown", "unreadable").state == model.FAIL


def test_issue19_vault_files_modes_owners_and_links(tmp_path: Path) -> None:
    vault = tmp_path / "vault"
    vault.mkdir(mode=0o700)
    (vault / "vault.age").write_bytes(b"x")
    (vault / "vault.age").chmod(0o600)
    owner = hostfacts.owner(tmp_path)
    assert host.check_vault_files(hostfacts.tree(vault), owner).state == model.OK
    (vault / "vault.age").chmod(0o644)
    (vault / "identity.age").symlink_to("/etc/passwd")
    check = host.check_vault_files(hostfacts.tree(vault), owner)
    assert check.state == model.FAIL
    assert "vault.age has mode 0644" in check.explanation
    assert "identity.age is a symbolic link" in check.explanation
    assert "chmod -R go-rwx" in check.fix
    other = (owner[0] + 1, owner[1])
    assert (
        "not the workspace's owner"
        in host.check_vault_files(hostfacts.tree(vault), other).explanation
    )
    assert host.check_vault_files(hostfacts.tree(tmp_path / "none"), owner).state == model.SKIPPED


def test_issue19_swap(tmp_path: Path) -> None:
    swaps = tmp_path / "swaps"
    swaps.write_text("Filename\tType\tSize\tUsed\tPriority\n")
    assert host.check_swap(hostfacts.swaps(swaps), "ram").state == model.OK
    swaps.write_text(
        "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"
        "/swapfile                               file\t\t2097148\t\t0\t\t-2\n"
        "/dev/zram0                              partition\t4015100\t\t0\t\t100\n"
    )
    check = host.check_swap(hostfacts.swaps(swaps), "ram")
    assert check.state == model.WARN and "/swapfile" in check.explanation
    assert "zram0" not in check.explanation and "swapoff" in check.fix
    assert host.check_swap(hostfacts.swaps(swaps), "luks").state == model.SKIPPED


def test_issue19_kernel_checks() -> None:
    assert host.check_user_namespaces("0").state == model.FAIL
    assert host.check_user_namespaces("15000").state == model.OK
    assert host.check_seccomp_support({"Name": "python"}).state == model.FAIL
    assert host.check_seccomp_support(hostfacts.process_status()).state == model.OK
    assert host.check_device_mapper({"loop": 7}, "luks").state == model.FAIL
    assert host.check_device_mapper({"device-mapper": 253}, "luks").state == model.OK
    assert host.check_cgroups(False, True).state == model.WARN
    assert host.check_cgroups(True, True).state == model.OK


def test_issue19_route_checks_refused_or_absent_pass_allowed_fails() -> None:
    results = {route: "refused" for route in ROUTES}
    results["directory"] = "absent"
    found = live.route_checks("same uid (tazpod)", 42, results)
    assert [c.state for c in found] == [model.OK] * len(ROUTES)
    assert found[1].explanation == "read /proc/42/root: refused"
    gone = live.route_checks("x", 42, dict.fromkeys(ROUTES, "absent"))
    assert [(c.state, c.name) for c in gone] == [(model.WARN, "enclave: x")]
    results["proc_environ"] = "allowed"
    del results["ptrace"]
    failed = {c.name: c for c in live.route_checks("x", 42, results) if c.state == model.FAIL}
    assert set(failed) == {"enclave: x: proc_environ", "enclave: x: ptrace"}
    assert failed["enclave: x: ptrace"].explanation.endswith(
        "not tried; a process outside the enclave reaches into it"
    )


def test_issue19_isolation_attempts_against_a_real_child(tmp_path: Path) -> None:
    """Own processes are reachable (the probe reports allowed); a gone one is absent."""
    import subprocess

    child = subprocess.Popen(["sleep", "30"])
    try:
        assert isolation.attempt(isolation.proc_environ(child.pid)) == isolation.ALLOWED
        assert isolation.attempt(isolation.proc_fd(child.pid)) == isolation.ALLOWED
        assert isolation.attempt(isolation.proc_mem(child.pid)) == isolation.ALLOWED
    finally:
        child.kill()
        child.wait()
    assert isolation.attempt(isolation.proc_environ(child.pid)) == isolation.ABSENT
    assert isolation.attempt(isolation.mount_point_listing(str(tmp_path))) == isolation.ABSENT
    (tmp_path / "token").write_text("x")
    assert isolation.attempt(isolation.mount_point_listing(str(tmp_path))) == isolation.ALLOWED
    assert isolation.processes_of([os.getpid()]) == {os.getpid(): os.getuid()}


def test_issue19_report_json_shape() -> None:
    checks = [model.ok("a", "fine"), model.fail("b", "bad", "do x"), model.skipped("c", "why")]
    document = json.loads(json.dumps(model.report_json("/p", "docker", None, checks)))
    assert document["ok"] is False and document["version"] == 1
    assert document["counts"] == {"ok": 1, "warn": 0, "fail": 1, "skipped": 1}
    assert document["checks"][1] == {
        "name": "b",
        "state": "fail",
        "explanation": "bad",
        "fix": "do x",
    }


@pytest.mark.parametrize("mode", ["rootless", "remap"])
def test_issue19_remapped_user_namespaces_pass(mode: str) -> None:
    assert container.check_userns(mode, "container root is host uid 100000").state == model.OK
