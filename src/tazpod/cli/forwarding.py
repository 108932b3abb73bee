"""Shared by the container commands: the engine, and forwarding into the container."""

from __future__ import annotations

import sys
from pathlib import Path

from tazpod.cli.context import Context
from tazpod.cli.ui import UI
from tazpod.engines.base import ContainerInfo, Engine
from tazpod.errors import EngineError, UsageError
from tazpod.sysio.environ import Inherit, child_env, in_container, in_enclave

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse  # (annotations only: argparse is built only when arguments come)

    from tazpod.engines.docker_socket import DockerSocketLookup

    SessionEngine = DockerSocketLookup | Engine


# tazpod as the images install it: a root-owned venv (images/base/Dockerfile).
CONTAINER_TAZPOD = ("/opt/tazpod/bin/python", "-I", "-m", "tazpod")


def engine_for(context: Context) -> Engine:
    from tazpod.engines import get_engine

    return get_engine(context.config.engine, context.config.kubernetes)


def session_engine_for(context: Context) -> SessionEngine:
    from tazpod.engines import get_session_engine

    return get_session_engine(context.config.engine, context.config.kubernetes)


def run_session(
    engine: SessionEngine,
    name: str,
    argv: list[str],
    user: str,
    tty: bool,
    stdin_data: bytes | None = None,
) -> int:
    """A command in the container; exit code and terminal pass through.

    Docker and Podman: their CLI replaces tazpod (or runs as a child when tazpod feeds
    stdin). Kubernetes: the API's exec stream, relayed by tazpod.
    """
    session = getattr(engine, "session", None)
    if session is not None:
        return int(session(name, argv, user, tty, "/workspace", stdin_data))
    command = engine.exec_argv(name, argv, user, tty, "/workspace")
    # The user's own engine client on the host: its settings (DOCKER_HOST, DOCKER_CONFIG,
    # CONTAINER_HOST, XDG_RUNTIME_DIR) are in the user's whole environment.
    env = child_env(inherit=Inherit.EVERYTHING)
    from tazpod.sysio.run import replace_process, run

    if stdin_data is None:
        replace_process(command, env)  # the session's exit code passes through
    return run(command, input=stdin_data, env=env, capture=False, check=False).returncode


def running_container(context: Context) -> tuple[SessionEngine, ContainerInfo] | None:
    """The project's running container, seen from the host; None on a host without one.

    A Docker or Podman project without a reachable engine or a running container works
    on the host itself (as the README says). A Kubernetes project never does: its vault
    is the pod's, so a pod that cannot be reached or is not running is an error, never a
    quiet fall-back that would open (or create) a vault on this host.
    """
    if in_container() or in_enclave():
        return None
    pod_only = context.config.engine == "kubernetes"
    name = context.config.container_name
    try:
        engine = session_engine_for(context)
        info = engine.find(name)
    except (EngineError, ImportError):
        if pod_only:
            raise
        return None
    if info is None or info.state != "running" or not info.managed:
        if pod_only:
            state = "not created" if info is None else info.state
            raise EngineError(
                f"the project's pod {name} is {state}; with engine: kubernetes the vault is"
                " the pod's, and tazpod does not open one on this host",
                hint="start it with `tazpod up`",
            )
        return None
    return engine, info


def _passphrase(args: argparse.Namespace) -> str | None:
    from tazpod.vault.prompts import PassphraseSource, read_noninteractive

    source = PassphraseSource(
        file=getattr(args, "passphrase_file", None), fd=getattr(args, "passphrase_fd", None)
    )
    return None if source.interactive else read_noninteractive(source)


def forward(
    args: argparse.Namespace,
    ui: UI,
    target: tuple[SessionEngine, ContainerInfo],
    inner: list[str],
    context: Context,
) -> int:
    """Run `tazpod INNER` in the container as root: it builds the enclave and drops to the user.

    A passphrase given by file or fd on the host travels on the exec's stdin, never in argv.
    Root in the container runs the image's root-owned tazpod in an isolated interpreter (no
    working directory, user site or PYTHON* variables: /workspace holds the user's files),
    with the digest of the settings approved here, and refuses a config that differs.
    """
    from tazpod.project import trust

    engine, info = target
    passphrase = _passphrase(args)
    command = [_in_container(context.project.root, arg) for arg in inner]
    if passphrase is not None:
        split = command.index("--") if "--" in command else len(command)
        command = [*command[:split], "--passphrase-fd", "0", *command[split:]]
    interactive = passphrase is None and sys.stdin.isatty()
    ui.info(f"entering container {info.name}")
    data = None if passphrase is None else (passphrase + "\n").encode()
    settings = trust.settings_of(context.config, context.secrets)
    approved = trust.APPROVED_OPTION + trust.digest(settings)
    argv = [*CONTAINER_TAZPOD, approved, *command]
    if inner[0] in ENCLAVE_COMMANDS:
        lifeline = [*CONTAINER_TAZPOD, approved, "lock", "--on-hangup"]
        code = _tied_session(engine, info.name, argv, lifeline, interactive, data)
    else:
        code = run_session(engine, info.name, argv, "0", interactive, data)
    if code in NO_PROGRAM:
        ui.error(NO_TAZPOD_IN_IMAGE, hint=NO_TAZPOD_HINT)
    return code


# The engines' exit codes for a program that is not there (docker 126, podman 127): tazpod's
# own never are these. An image of a devcontainer.json's own may lack root's tazpod.
NO_PROGRAM = (126, 127)
NO_TAZPOD_IN_IMAGE = (
    "the container's image has no tazpod in /opt/tazpod (root's, which builds the enclave"
    " and serves ssh): the engine could not start it"
)
NO_TAZPOD_HINT = (
    "build the image FROM one of tazpod's (tazpod-base:<version>, `tazpod build`), or install"
    " tazpod into it as images/base/Dockerfile does (python3 -m venv /opt/tazpod, then pip"
    " install tazpod there)"
)


ENCLAVE_COMMANDS = ("run", "unlock")
_CLOSE_WAIT = 300.0  # seconds the host side waits for the enclave's final save


def _tied_session(
    engine: SessionEngine,
    name: str,
    argv: list[str],
    lifeline_argv: list[str],
    tty: bool,
    stdin_data: bytes | None,
) -> int:
    """The enclave's session in the container, tied to this process by a lifeline.

    A second exec (`tazpod lock --on-hangup`, as root) reads a pipe this process holds:
    when this side is interrupted (Ctrl-C, SIGTERM, a closed terminal) or killed, the
    pipe closes and the enclave in the container is saved and closed instead of being
    left open without anyone attached; a session that ends normally says "done" first.
    """
    import signal

    from tazpod.cli.commands.lock import DONE
    from tazpod.sysio.run import Lifeline, run

    env = child_env(inherit=Inherit.EVERYTHING)
    session = getattr(engine, "session", None)  # Kubernetes: the API's exec streams
    line = (
        engine.lifeline(name, lifeline_argv)  # type: ignore[union-attr]
        if session is not None
        else Lifeline(engine.exec_argv(name, lifeline_argv, "0", False, "/workspace"), env)
    )
    stopped: list[int] = []

    def cut(signum: int, _frame: object) -> None:
        stopped.append(signum)
        line.cut()

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, cut)
    if session is not None:  # in this process: a signal only cuts the lifeline (above)
        code = int(session(name, argv, "0", tty, "/workspace", stdin_data))
    else:
        command = engine.exec_argv(name, argv, "0", tty, "/workspace")
        code = run(command, input=stdin_data, env=env, capture=False, check=False).returncode
    if stopped:
        line.cut()
        line.wait(_CLOSE_WAIT)  # it prints the enclave's final save
        return 128 + stopped[0]
    line.release(DONE)
    line.wait(30.0)
    return code


def _in_container(root: Path, arg: str) -> str:
    """Host paths inside the project become their /workspace paths in the container."""
    if arg.startswith("/"):
        path = Path(arg)
        if path == root or root in path.parents:
            return str(Path("/workspace") / path.relative_to(root))
    return arg


def require_host() -> None:
    if in_container():
        raise UsageError(
            "this command manages the container from the host; you are inside it",
            hint="run it on the host",
        )


def enclave_open_in(context: Context, engine: Engine, name: str) -> bool | None:
    """Whether an enclave's door answers in the project's running container or pod: the
    supervisor's own word (root's `tazpod lock --check` there), whatever became of the
    lock file, which the container's user can rename. None: no clear answer came."""
    try:
        code, out, err = as_root(context, engine, name, ["lock", "--check"])
    except EngineError:
        return None
    missing = ("no such file", "not found")
    if code in NO_PROGRAM and any(word in (out + err).lower() for word in missing):
        # The engine's word that root's /opt/tazpod is not in the image (a devcontainer's
        # own): no tazpod there, no enclave either. (126 alone may be a failed exec.)
        return False
    return _answer(code, out)


def as_root(context: Context, engine: Engine, name: str, inner: list[str]) -> tuple[int, str, str]:
    """Root's tazpod in the running container, with the approved settings' digest: its exit
    code, output and errors (EngineError when the engine cannot run it)."""
    from tazpod.project import trust

    approved = trust.APPROVED_OPTION + trust.digest(
        trust.settings_of(context.config, context.secrets)
    )
    argv = [*CONTAINER_TAZPOD, approved, *inner]
    if context.config.engine == "kubernetes":
        from tazpod.engines.kubernetes.engine import KubernetesEngine, as_user
        from tazpod.engines.kubernetes.stream import run_capture

        assert isinstance(engine, KubernetesEngine)
        code, out, err = run_capture(engine, name, as_user(argv, "0", "/workspace"))
        return code, out.decode(errors="replace"), err.decode(errors="replace")
    from tazpod.sysio.run import run

    command = engine.exec_argv(name, argv, "0", False, "/workspace")
    done = run(command, env=child_env(inherit=Inherit.EVERYTHING), check=False, timeout=60)
    return done.returncode, done.out, done.err


def _answer(code: int, out: str) -> bool | None:
    said = out.strip()
    return None if code != 0 or said not in ("open", "closed") else said == "open"


def refuse_open_enclave(
    context: Context, engine: Engine, info: ContainerInfo, force: bool, doing: str
) -> None:
    """Removing the container kills an open enclave in it before it saves: say so first
    (``doing``: the command that would remove it, for the message).

    The vault's lock is an flock on a file of the workspace, which a container shares:
    the host sees it held. A same-uid process in the container can rename that file,
    though, and a pod's vault is in its own volume: so root in the running container is
    also asked whether an enclave's door answers there (`tazpod lock --check`); no clear
    answer is not taken for "closed".
    """
    from tazpod.errors import VaultBusyError
    from tazpod.vault.lock import is_locked

    if force:
        return
    local = context.config.engine != "kubernetes" and is_locked(context.project.vault_dir)
    asked = enclave_open_in(context, engine, info.name) if info.state == "running" else False
    if local or asked:
        raise VaultBusyError(
            f"the vault is open in an enclave in {info.name}: removing it now loses what was"
            " changed there since its last save",
            hint=f"close the enclave first (`tazpod lock` saves and closes it), then"
            f" `{doing}`; `{doing} --force` removes it anyway",
        )
    if asked is None:
        raise VaultBusyError(
            f"cannot tell whether an enclave holds the vault open in {info.name} (root there"
            " gave no clear answer to `tazpod lock --check`)",
            hint=f"`tazpod lock` closes one if it is open; `{doing} --force` removes the"
            " container anyway",
        )
