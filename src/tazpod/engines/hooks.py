"""A project's lifecycle hooks (devcontainer.json's), run in its container.

As the devcontainers CLI runs them: a string through `/bin/sh -c`, a list as the program
and its arguments, a mapping as named commands run at the same time (each must succeed;
all are waited for). `up` runs on_create, update_content and post_create once, after it
made the container (new, or anew from a stopped or replaced one), then post_start;
`tazpod ssh` runs post_attach. Every command runs as the container's user (never
root), in /workspace, outside any enclave (no secret is in its environment), with its
output shown as it comes; named commands' lines are prefixed with their name. The first
failing hook stops the rest, as in the devcontainers CLI.
"""

from __future__ import annotations

import shlex
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from tazpod.engines.base import ContainerInfo, Progress
from tazpod.errors import EngineError
from tazpod.project.schema import HookCommand, ProjectConfig

WORKDIR = "/workspace"
# Each stage under its devcontainer.json name, for messages.
SPEC_NAMES = {
    "on_create": "onCreateCommand",
    "update_content": "updateContentCommand",
    "post_create": "postCreateCommand",
    "post_start": "postStartCommand",
    "post_attach": "postAttachCommand",
}
CREATE_STAGES = ("on_create", "update_content", "post_create", "post_start")
# Merges a command's errors into its output, in the container, for the prefixed lines.
_MERGED = ("/bin/sh", "-c", 'exec "$@" 2>&1', "tazpod-hook")


class HookEngine(Protocol):
    """What running a hook needs of an engine (a pod's: its `session` instead)."""

    name: str

    def exec_argv(
        self, name: str, argv: Sequence[str], user: str, tty: bool, workdir: str | None
    ) -> list[str]: ...


def argv_of(hook: HookCommand) -> list[str]:
    """The command's argv in the container: a string runs in /bin/sh, a list as it is."""
    if isinstance(hook.command, str):
        return ["/bin/sh", "-c", hook.command]
    return list(hook.command)


def shown(hook: HookCommand) -> str:
    return hook.command if isinstance(hook.command, str) else shlex.join(hook.command)


def run_up_hooks(
    engine: HookEngine, info: ContainerInfo, config: ProjectConfig, action: str, progress: Progress
) -> None:
    """After `up`: the create hooks and post_start, unless the container was running."""
    if action == "running":
        return
    for stage in CREATE_STAGES:
        run_hooks(engine, info, config, stage, progress)


def run_attach_hooks(
    engine: HookEngine, info: ContainerInfo, config: ProjectConfig, progress: Progress
) -> None:
    """When a session attaches (`tazpod ssh`): post_attach."""
    run_hooks(engine, info, config, "post_attach", progress)


def run_hooks(
    engine: HookEngine, info: ContainerInfo, config: ProjectConfig, stage: str, progress: Progress
) -> None:
    """Run one stage's commands; EngineError naming the hook, command and exit code."""
    hooks: tuple[HookCommand, ...] = getattr(config.hooks, stage)
    if not hooks:
        return
    runner = _Runner(engine, info.name, config.user, progress)
    if len(hooks) == 1 and not hooks[0].name:
        progress(f"running {SPEC_NAMES[stage]}: {shown(hooks[0])}")
        failures = [] if runner.live(hooks[0]) == 0 else [(hooks[0], runner.last_code)]
    else:
        names = ", ".join(hook.name for hook in hooks)
        progress(f"running {SPEC_NAMES[stage]} ({names}, at the same time)")
        failures = runner.parallel(hooks)
    if failures:
        raise _failed(stage, failures, config)


@dataclass
class _Runner:
    engine: HookEngine
    container: str
    user: str
    progress: Progress
    last_code: int = 0

    def live(self, hook: HookCommand) -> int:
        """One command, each line of its output shown as it comes (through the UI, which
        escapes what the container prints: it cannot forge tazpod's lines); its exit code."""
        argv = [*_MERGED, *argv_of(hook)]
        if getattr(self.engine, "session", None) is not None:  # Kubernetes: the exec stream
            self.last_code = self._pod_captured(hook, argv)
        else:
            self.last_code = self._piped(hook, argv)
        return self.last_code

    def parallel(self, hooks: Sequence[HookCommand]) -> list[tuple[HookCommand, int]]:
        """Named commands at the same time, each line prefixed; the failed ones."""
        codes: dict[str, int] = {}
        threads = [
            threading.Thread(target=self._prefixed, args=(hook, codes), daemon=True)
            for hook in hooks
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return [(hook, codes.get(hook.name, 1)) for hook in hooks if codes.get(hook.name, 1)]

    def _prefixed(self, hook: HookCommand, codes: dict[str, int]) -> None:
        argv = [*_MERGED, *argv_of(hook)]
        try:
            if getattr(self.engine, "session", None) is not None:
                codes[hook.name] = self._pod_captured(hook, argv)
            else:
                codes[hook.name] = self._piped(hook, argv)
        except EngineError as err:
            self.progress(f"[{hook.name}] {err.message}")
            codes[hook.name] = 1

    def _piped(self, hook: HookCommand, argv: list[str]) -> int:
        from tazpod.sysio.environ import Inherit, child_env
        from tazpod.sysio.run import CannotRun, Child, CommandFailed

        command = self.engine.exec_argv(self.container, argv, self.user, False, WORKDIR)
        try:
            child = Child(command, env=child_env(inherit=Inherit.EVERYTHING))
        except CannotRun as err:
            raise EngineError(f"cannot run the hook: {err.reason}") from err
        for raw in child.stdout:
            self.progress(f"{_label(hook)}{raw.decode(errors='replace').rstrip()}")
        try:
            child.finish()
        except CommandFailed as err:
            if err.last_line:
                self.progress(f"{_label(hook)}{err.last_line}")
            return err.returncode
        return 0

    def _pod_captured(self, hook: HookCommand, argv: list[str]) -> int:
        """A pod's: the output when the command ends (as the devcontainers CLI shows it)."""
        from tazpod.engines.kubernetes.engine import as_user
        from tazpod.engines.kubernetes.stream import run_capture

        code, out, _err = run_capture(
            self.engine,  # type: ignore[arg-type]
            self.container,
            as_user(argv, self.user, WORKDIR),
        )
        for line in out.decode(errors="replace").splitlines():
            self.progress(f"{_label(hook)}{line}")
        return code


def _label(hook: HookCommand) -> str:
    return f"[{hook.name}] " if hook.name else ""


def _failed(
    stage: str, failures: list[tuple[HookCommand, int]], config: ProjectConfig
) -> EngineError:
    what = "; ".join(
        f"{hook.name + ': ' if hook.name else ''}`{shown(hook)}` exited {code}"
        for hook, code in failures
    )
    source = config.devcontainer.source if config.devcontainer else ".tazpod/config.yaml"
    later = " (the hooks after it did not run)" if stage != "post_attach" else ""
    return EngineError(
        f"the {SPEC_NAMES[stage]} hook failed{later}: {what}",
        hint=f"fix it in {source}"
        + (
            " and import it again (`tazpod init --from-devcontainer`, `tazpod trust`)"
            if config.devcontainer
            else ", then `tazpod trust`"
        )
        + "; the container is up: run the command by hand with `tazpod exec`, or make the"
        " container anew (`tazpod up --replace`) to run every hook again",
    )
