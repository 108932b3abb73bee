"""Every check of `tazpod doctor`, in the order the report shows them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tazpod.cli.context import Context
from tazpod.doctor import container, host
from tazpod.doctor.model import Check, skipped
from tazpod.errors import TazpodError

CONTAINER_CHECKS = (
    "container: privileged",
    "container: capabilities",
    "container: seccomp",
    "container: no-new-privileges",
    "container: host namespaces",
    "container: user namespace",
)


@dataclass(frozen=True)
class Diagnosis:
    container: str | None  # the container's name, when there is one
    checks: list[Check]


def diagnose(context: Context) -> Diagnosis:
    from tazpod.sysio import hostfacts, procfs
    from tazpod.sysio.environ import in_container

    config = context.config
    state, detail = trust_state(context)
    checks = [host.check_trust(state, detail)]
    found, live = _container(context, state)
    checks += found.checks
    backend = config.vault.backend
    if config.engine == "kubernetes":
        checks.append(skipped("vault: file modes and owners", "the vault is in the pod's volume"))
    else:
        vault_dir = context.project.vault_dir
        owner = hostfacts.owner(context.project.root)
        checks.append(host.check_vault_files(hostfacts.tree(vault_dir), owner))
    checks.append(host.check_swap(hostfacts.swaps(), backend))
    checks.append(host.check_user_namespaces(hostfacts.sysctl("user.max_user_namespaces")))
    checks.append(host.check_seccomp_support(hostfacts.process_status()))
    checks.append(host.check_ptrace_scope(hostfacts.sysctl("kernel.yama.ptrace_scope")))
    try:
        majors: dict[str, int] | None = procfs.device_majors()
    except OSError:
        majors = None
    checks.append(host.check_device_mapper(majors, backend))
    sys_admin = backend == "luks" or config.privileged
    checks.append(host.check_cgroups(hostfacts.cgroup_v2(), sys_admin))
    if in_container():
        checks.append(
            skipped("enclave: live probes", "inside the container: run doctor on the host")
        )
    else:
        checks += live
    return Diagnosis(found.container, checks)


def trust_state(context: Context) -> tuple[str, str]:
    from tazpod.errors import ConfigError
    from tazpod.project import trust
    from tazpod.sysio.environ import in_container

    if in_container():
        return "in-container", ""
    try:
        approved = trust.load_approved(context.project.root)
    except ConfigError as err:
        return "unknown", err.message
    if approved is None:
        return "never", ""
    changed = trust.changes(approved, trust.settings_of(context.config, context.secrets))
    if changed:
        return "changed", ", ".join(key for key, _old, _new in changed)
    return "approved", ""


def _skip_container(reason: str, live: str | None = None) -> tuple[Diagnosis, list[Check]]:
    checks = [skipped(name, reason) for name in CONTAINER_CHECKS]
    return Diagnosis(None, checks), [skipped("enclave: live probes", live or reason)]


def _container(context: Context, trust: str) -> tuple[Diagnosis, list[Check]]:
    """The container checks, and the live probes (run when an enclave is open there)."""
    from tazpod.sysio.environ import in_container

    config = context.config
    if in_container():
        return _skip_container("inside the container: run `tazpod doctor` on the host")
    if config.engine == "kubernetes":
        return _skip_container(
            "not checked on Kubernetes: the pod's securityContext is the cluster's"
            " (`kubectl get pod -o yaml` shows it)"
        )
    if trust != "approved":
        return _skip_container("the settings are not approved: the engine is not asked")
    from tazpod.engines import get_engine

    try:
        engine = get_engine(config.engine, config.kubernetes)
        info = engine.find(config.container_name)
    except (TazpodError, ImportError) as err:
        reason = getattr(err, "message", str(err))
        return _skip_container(f"no container: the engine cannot be reached ({reason})")
    if info is None:
        return _skip_container(
            "no container (the enclave is built on this host, or `tazpod up` was not run)",
            "no container: live probes run against an enclave in the project's container",
        )
    checks = container_checks(engine, info, context)
    live: list[Check]
    if info.state != "running":
        live = [skipped("enclave: live probes", f"the container is {info.state}")]
    else:
        from tazpod.doctor.live import probes

        live = probes(context, engine, info.name)
    return Diagnosis(info.name, checks), live


def container_checks(engine: Any, info: Any, context: Context) -> list[Check]:
    from tazpod.doctor.gather import inspect
    from tazpod.sysio import hostfacts

    try:
        data, rootless = inspect(engine, info.name)
    except TazpodError as err:
        return [
            skipped(name, f"the engine cannot describe it: {err.message}")
            for name in CONTAINER_CHECKS
        ]
    facts = container.from_inspect(data)
    if info.pid > 0:
        facts = container.with_status(facts, hostfacts.process_status(info.pid))
    added = ("SYS_ADMIN",) if context.config.vault.backend == "luks" else ()
    return [
        container.check_privileged(facts),
        container.check_capabilities(facts, added),
        container.check_seccomp(facts),
        container.check_no_new_privileges(facts),
        container.check_host_namespaces(facts),
        _userns(engine, info, context, rootless),
    ]


def _userns(engine: Any, info: Any, context: Context, rootless: bool) -> Check:
    from tazpod.engines import usermap

    if info.state != "running":
        return skipped("container: user namespace", f"the container is {info.state}")
    try:
        found = usermap.of(engine, info, context.config.user)
    except TazpodError as err:
        return skipped("container: user namespace", f"cannot read it: {err.message}")
    mode = "none" if not found.remapped else ("rootless" if rootless else "remap")
    return container.check_userns(mode, found.describe())
