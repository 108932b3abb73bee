"""devcontainer.json's `runArgs`: the part of `docker run`'s options tazpod can honour.

tazpod builds its own least-privilege container (tazpod.engines.devcontainer); of the
options a devcontainer.json may pass, it takes those that change nothing of that:
`-e/--env K=V`, `--ulimit`, `--network host|none`, `--memory/-m`, `--cpus`,
`--shm-size`, `--hostname/-h` and `--init` (tazpod's container always has an init).
Everything else is refused, with the reason for the ones that would widen the
container's privileges or reach the host.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from tazpod.project import validate

_SUBSET = "not in tazpod's safe subset; tazpod builds its own least-privilege container"
_HOST_NAMESPACE = "shares a namespace of the host's with the container: it would reach the host"
REASONS = {
    "--privileged": "gives the container every capability and every host device: it would"
    " be root on the host",
    "--cap-add": "adds capabilities tazpod keeps out (the container has Docker's defaults"
    " minus NET_RAW and MKNOD, and no CAP_SYS_ADMIN)",
    "--security-opt": "would loosen what keeps root in the container from the host"
    " (tazpod's seccomp profile, no-new-privileges, AppArmor)",
    "--device": "hands the container a device of the host's",
    "--device-cgroup-rule": "lets the container use devices of the host's",
    "--gpus": "hands the container devices of the host's",
    "--volume": "use `mounts` instead: tazpod checks what each mount hands the container",
    "--mount": "use `mounts` instead: tazpod checks what each mount hands the container",
    "--user": "tazpod runs the container's first process as root (to build the enclave)"
    " and sessions as remoteUser (never root): set remoteUser",
    "--group-add": "adds groups whose rights reach files of the host's (the docker group's"
    " socket, say)",
    "--sysctl": "changes kernel parameters",
    "--publish": "tazpod's container uses the host's network (or none): list the ports in"
    " forwardPorts",
    "--publish-all": "tazpod's container uses the host's network (or none): list the ports"
    " in forwardPorts",
    "--env-file": "reads a file of the host's, which may hold secrets: put the variables in"
    " containerEnv (secrets belong in tazpod's vault)",
    "--name": "tazpod names the container (container_name in .tazpod/config.yaml)",
    "--rm": "tazpod's container lives until `tazpod down`",
    "--entrypoint": "tazpod chooses the container's first process",
    "--runtime": "tazpod's isolation is measured on the engine's default runtime",
    "--cgroup-parent": "places the container in a cgroup of the host's choosing",
}
_SHORT = {
    "-e": "--env",
    "-m": "--memory",
    "-h": "--hostname",
    "-v": "--volume",
    "-u": "--user",
    "-p": "--publish",
    "-P": "--publish-all",
    "-l": "--label",
    "-w": "--workdir",
}
_NAMESPACES = ("--pid", "--ipc", "--uts", "--userns", "--cgroupns", "--network", "--net")
_BOOLEAN = (
    "--privileged",
    "--rm",
    "--init",
    "--publish-all",
    "--tty",
    "--interactive",
    "--detach",
    "--read-only",
    "--oom-kill-disable",
    "--no-healthcheck",
)
_ULIMIT_RE = re.compile(r"^[a-z]+=\d+(:\d+)?$")


@dataclass
class RunOptions:
    environment: list[tuple[str, str]] = field(default_factory=list)
    ulimits: list[str] = field(default_factory=list)
    settings: dict[str, str] = field(default_factory=dict)  # network, memory, cpus, ...
    notes: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # "OPTION: reason"


def _options(args: list[str]) -> Iterator[tuple[str, str | None, str]]:
    """(long option name, its value or None, as written) for each option in ``args``."""
    index = 0
    while index < len(args):
        written = args[index]
        index += 1
        if written.startswith("--"):
            name, has_value, value = written.partition("=")
        elif written.startswith("-") and len(written) >= 2:
            name, value = _SHORT.get(written[:2], written[:2]), written[2:].removeprefix("=")
            has_value = "=" if value else ""
        else:
            yield "", written, written  # not an option: an image or a command
            continue
        known = name in {*REASONS, *_NAMESPACES, *_TAKEN, *_SHORT.values()}
        following = args[index] if index < len(args) else None
        # (an unknown option takes what follows unless that is an option itself)
        wants_value = name not in _BOOLEAN and following is not None
        if wants_value and not known:
            wants_value = not str(following).startswith("-")
        if not has_value and wants_value:
            value, has_value = args[index], "="
            written += " " + value
            index += 1
        yield name, (value if has_value else None), written


def parse(args: list[str]) -> RunOptions:
    out = RunOptions()
    for name, value, written in _options(args):
        if name in _TAKEN:
            if value is None:
                out.refused.append(f"{written}: needs a value")
                continue
            try:
                _TAKEN[name](out, value)
            except ValueError as err:
                out.refused.append(f"{written}: {err}")
        elif name == "--init":
            out.notes.append("--init: tazpod's container always runs an init")
        elif name in _NAMESPACES:
            why = _HOST_NAMESPACE if value == "host" else _SUBSET
            out.refused.append(f"{written}: {why}")
        else:
            out.refused.append(f"{written}: {REASONS.get(name, _SUBSET)}")
    return out


def _env(out: RunOptions, value: str) -> None:
    name, has_value, text = value.partition("=")
    if not has_value:
        raise ValueError(
            f"copies {name} from the host's environment, which may hold secrets (config.yaml"
            " keeps no value of the host's): give the value, or use tazpod's vault"
        )
    validate.env_name(name)
    out.environment.append((name, validate.env_value(name, text)))


def _ulimit(out: RunOptions, value: str) -> None:
    if not _ULIMIT_RE.match(value):
        raise ValueError("is not NAME=SOFT[:HARD] (e.g. nofile=20000:20000)")
    out.ulimits.append(value)


def _network(out: RunOptions, value: str) -> None:
    if value not in ("host", "none"):
        raise ValueError("tazpod never makes bridge networks: the network is host or none")
    out.settings["network"] = value


def _setting(key: str, check: Callable[[str], str]) -> Callable[[RunOptions, str], None]:
    def take(out: RunOptions, value: str) -> None:
        out.settings[key] = check(value)

    return take


_TAKEN: dict[str, Callable[[RunOptions, str], None]] = {
    "--env": _env,
    "--ulimit": _ulimit,
    "--network": _network,
    "--net": _network,
    "--memory": _setting("memory", validate.byte_size),
    "--cpus": _setting("cpus", validate.cpus),
    "--shm-size": _setting("shm_size", validate.byte_size),
    "--hostname": _setting("hostname", validate.hostname),
}
