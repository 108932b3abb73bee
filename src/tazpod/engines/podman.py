"""Podman through its command-line interface (rootful or rootless, as the user runs it).

Every call is an argument list, never a shell string; failures keep argv, exit
code and stderr in the error.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from tazpod.engines.base import (
    ANCHOR_OPTIONS,
    LABEL_MANAGED,
    ContainerInfo,
    ContainerSpec,
    Progress,
    exec_command,
)
from tazpod.engines.buildlog import BuildLog
from tazpod.engines.hints import PULL_HINT, RLIMIT_HINT, build_hint
from tazpod.errors import EngineError
from tazpod.sysio.environ import Inherit, child_env
from tazpod.sysio.run import CannotRun, CommandFailed, Completed, last_line, output_lines, run
from tazpod.sysio.tools import find_tool


def _users_env() -> dict[str, str]:
    # The user's own podman on the host: rootless podman finds its state through the
    # user's environment (XDG_RUNTIME_DIR, CONTAINER_HOST, CONTAINERS_CONF, proxies).
    return child_env(inherit=Inherit.EVERYTHING)


class PodmanEngine:
    name = "podman"

    def __init__(self) -> None:
        binary = find_tool("podman", on_path=True)
        if binary is None:
            raise EngineError(
                "podman is not installed", hint="install it (Debian/Ubuntu: apt-get install podman)"
            )
        self.binary = binary
        info = self._run(["info", "--format", "json"], what="reach Podman")
        self.rootless = _is_rootless(info.out)

    def _run(self, args: Sequence[str], what: str, check: bool = True) -> Completed:
        try:
            done = run([self.binary, *args], env=_users_env(), check=False, timeout=600)
        except CannotRun as err:
            raise EngineError(f"cannot {what or 'run podman'}: {err.reason}") from err
        if check and done.returncode != 0:
            detail = last_line(done.err) or "no message"
            raise EngineError(
                f"cannot {what}: podman {args[0]} exited {done.returncode}: {detail}",
                hint=RLIMIT_HINT if "rlimit" in detail else None,
            )
        return done

    def image_exists(self, image: str) -> bool:
        return self._run(["image", "exists", image], what="", check=False).returncode == 0

    def pull(self, image: str, progress: Progress) -> None:
        progress(f"pulling {image}")
        done = self._run(["pull", image], what="", check=False)
        if done.returncode != 0:
            detail = last_line(done.err) or "no message"
            raise EngineError(f"cannot pull {image}: {detail}", hint=PULL_HINT)

    def build(
        self,
        context: Path,
        dockerfile: Path,
        tag: str,
        args: Mapping[str, str],
        progress: Progress,
        target: str | None = None,
    ) -> None:
        command = [self.binary, "build", "--network=host", "-f", str(dockerfile), "-t", tag]
        for key, value in args.items():
            command += ["--build-arg", f"{key}={value}"]
        if target:
            command += ["--target", target]
        log = BuildLog(progress)
        try:
            for line in output_lines([*command, str(context)], env=_users_env()):
                log.feed(line)
        except CommandFailed as err:
            raise EngineError(
                log.failure(tag, err.last_line or "no output"), hint=build_hint(err.stderr)
            ) from err

    @staticmethod
    def _info(data: dict[str, Any]) -> ContainerInfo:
        names = data.get("Names") or [data.get("Name", "")]
        state = data.get("State")
        status = state.get("Status", "") if isinstance(state, dict) else str(state or "")
        labels = data.get("Labels") or (data.get("Config") or {}).get("Labels") or {}
        return ContainerInfo(
            name=str(names[0] if isinstance(names, list) else names).lstrip("/"),
            id=str(data.get("Id", data.get("ID", "")))[:12],
            state=status.lower(),
            image=str(data.get("ImageName") or data.get("Image") or ""),
            labels=dict(labels),
            pid=int(state.get("Pid") or 0) if isinstance(state, dict) else 0,
        )

    def find(self, name: str) -> ContainerInfo | None:
        found = self.inspect(name)
        return None if found is None else self._info(found)

    def inspect(self, name: str) -> dict[str, Any] | None:
        """`podman container inspect`'s document of one container (None: no such one)."""
        done = self._run(["container", "inspect", name, "--format", "json"], what="", check=False)
        if done.returncode != 0:
            return None
        found = json.loads(done.out or "[]")
        return dict(found[0]) if found else None

    def list_managed(self) -> list[ContainerInfo]:
        done = self._run(
            ["ps", "-a", "--filter", f"label={LABEL_MANAGED}=true", "--format", "json"],
            what="list containers",
        )
        return sorted((self._info(c) for c in json.loads(done.out or "[]")), key=lambda c: c.name)

    def create(self, spec: ContainerSpec) -> ContainerInfo:
        command = [
            "create",
            "--name",
            spec.name,
            "--init",
            "--network",
            spec.network,
            "-w",
            spec.workdir,
        ]
        for key, value in spec.labels.items():
            command += ["--label", f"{key}={value}"]
        for mount in spec.mounts:
            command += ["-v", f"{mount.source}:{mount.target}:{'ro' if mount.read_only else 'rw'}"]
        for key, value in spec.environment.items():
            command += ["-e", f"{key}={value}"]
        for path in spec.anchors:
            command += ["--tmpfs", f"{path}:{ANCHOR_OPTIONS}"]
        for flag, values in (
            ("--cap-add", spec.cap_add),
            ("--cap-drop", spec.cap_drop),
            ("--security-opt", spec.security_opt),
            ("--device", spec.devices),
            ("--device-cgroup-rule", spec.device_cgroup_rules),
            ("--ulimit", spec.ulimits),
        ):
            for value in values:
                command += [flag, value]
        if spec.privileged:
            command.append("--privileged")
        command += _limits(spec)
        if self.rootless:
            # The user's uid is the container user's, so the workspace is theirs on both
            # sides; container root is the first subordinate uid (an unprivileged one).
            # keep-id would also run the container's own processes as the user, who could
            # then stop the container (and every enclave, unsaved) or trace its init.
            uid, gid = spec.user_ids
            command += [f"--userns=keep-id:uid={uid},gid={gid}", "--user=0:0"]
        with _profile_file(spec.seccomp) as profile:
            if profile is not None:
                command += ["--security-opt", f"seccomp={profile}"]  # read once, at create
            self._run([*command, spec.image, *spec.command], what=f"create {spec.name}")
        info = self.find(spec.name)
        if info is None:
            raise EngineError(f"podman created {spec.name} but cannot find it")
        return info

    def start(self, name: str, progress: Progress = lambda _message: None) -> None:
        self._run(["start", name], what=f"start {name}")

    def remove(self, name: str, purge: bool = False) -> None:
        self._run(["rm", "-f", name], what=f"remove {name}", check=False)

    def import_image(self, rootfs_tar: Path, tag: str) -> None:
        self._run(["import", str(rootfs_tar), tag], what=f"import {tag}")

    def exec_argv(
        self, name: str, argv: Sequence[str], user: str, tty: bool, workdir: str | None
    ) -> list[str]:
        return exec_command(self.binary, name, argv, user, tty, workdir)


def _limits(spec: ContainerSpec) -> list[str]:
    """`--memory`, `--cpus`, `--shm-size` and `--hostname`, as the spec sets them."""
    out = []
    if spec.memory is not None:
        out.append(f"--memory={spec.memory}b")
    if spec.nano_cpus is not None:
        out.append(f"--cpus={spec.nano_cpus / 1e9:g}")
    if spec.shm_size is not None:
        out.append(f"--shm-size={spec.shm_size}b")
    if spec.hostname:
        out.append(f"--hostname={spec.hostname}")
    return out


def _is_rootless(info_json: str) -> bool:
    try:
        host = json.loads(info_json or "{}").get("host") or {}
        return bool((host.get("security") or {}).get("rootless"))
    except (ValueError, AttributeError):
        return False


@contextlib.contextmanager
def _profile_file(text: str | None) -> Iterator[str | None]:
    """The seccomp profile as the file podman's CLI wants (podman copies it into the
    container's configuration at create). Kept in the user's state directory, named by its
    digest, so that `tazpod doctor` can check the content of the file Podman names (its
    inspect shows only the path); a temporary file where that cannot be written."""
    if text is None:
        yield None
        return
    import hashlib

    from tazpod.project.trust import state_dir
    from tazpod.sysio.files import write_atomic

    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    kept = state_dir() / "seccomp" / f"tazpod-seccomp-{digest}.json"
    try:
        kept.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_atomic(kept, text.encode(), mode=0o644)
    except OSError:
        with tempfile.NamedTemporaryFile("w", prefix="tazpod-seccomp-", suffix=".json") as handle:
            handle.write(text)
            handle.flush()
            yield handle.name
        return
    yield str(kept)
