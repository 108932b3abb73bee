"""The enclave shell's start-up and state: tazpod's own files, kept inside the vault.

The shared home is writable by every session of the same user, so the enclave shell never
reads `~/.bashrc`, `~/.profile` or `~/.inputrc`, and what happens in the enclave (shell,
less, REPL histories, Neovim's shada, swap and undo files) stays in the enclave:

  <vault>/.tazpod/shellrc        tazpod's start-up file, written at every unlock (unsaved)
  <vault>/.tazpod/refresh.sh     the prompt hook of bash and zsh (live refresh, below)
  <vault>/.tazpod/.zshrc         zsh's start-up file (ZDOTDIR): the prompt hook only
  <vault>/.tazpod/cache/         XDG_CACHE_HOME (unsaved: gone when the enclave closes)
  <vault>/.tazpod/tmp/           TMPDIR, TMUX_TMPDIR (unsaved; tmux's socket out of /tmp)
  <vault>/.state/                XDG_STATE_HOME and the histories (saved with the vault)
  <vault>/.bashrc                the user's own start-up file for the enclave, if any (saved)

Live refresh: after a `tazpod pull` or `tazpod secrets set` in one shell of the enclave,
the others have the new variables at their next prompt. The prompt hook reads the
secrets generation (tazpod.secrets.generation) with the `read` builtin, no process
started, and runs `eval "$(tazpod env)"` only when it differs from the one the shell
applied last. The shell starts with the generation its environment was built from
(GENERATION_ENV; a shell with a grant gets none, and no hook: `tazpod env` in its view
would see only the grant). bash runs it from PROMPT_COMMAND (appended to the user's, an array
element from bash 5.1 on), zsh from precmd_functions; sh and dash have no prompt hook
and are not refreshed.
"""

from __future__ import annotations

import os
from pathlib import Path

CONTROL_DIR = ".tazpod"  # tazpod.enclave.control.CONTROL_DIR
STATE_DIR = ".state"
RC_NAME = "shellrc"
REFRESH_NAME = "refresh.sh"
ZSHRC_NAME = ".zshrc"
GENERATION_ENV = "TAZPOD_GENERATION"  # the generation a new shell's variables are of
INPUTRC = "/etc/inputrc"  # root-owned; the home's ~/.inputrc can bind keys to commands

_RC = """\
# tazpod: the enclave shell's start-up file, written at every unlock; edits here are lost.
# Your own start-up lines for the enclave go in $TAZPOD_VAULT/.bashrc (saved in the vault);
# ~/.bashrc is not read here: any session of your user can write it.
HISTFILE="$TAZPOD_VAULT/.state/bash_history"
PS1="(enclave) ${PS1:-\\u@\\h:\\w\\$ }"
[ -r "$TAZPOD_VAULT/.bashrc" ] && . "$TAZPOD_VAULT/.bashrc"
# After your own file: its PROMPT_COMMAND is kept, the refresh is appended (sh: none).
[ -n "${BASH_VERSION-}" ] && . "$TAZPOD_VAULT/.tazpod/refresh.sh"
"""

# bash and zsh (dash never reads it): builtins only at a prompt where nothing changed.
_REFRESH = """\
# tazpod: the enclave shell's live refresh, written at every unlock; edits here are lost.
# At each prompt one `read` builtin of the secrets generation; only when another one than
# this shell applied last is there does `tazpod env` run. Only where tazpod offers it
# (TAZPOD_GENERATION: the whole enclave in sight; a shell with a grant keeps its grant).
if [ -n "${TAZPOD_GENERATION-}" ]; then
    __tazpod_generation=$TAZPOD_GENERATION
    __tazpod_refresh() {
        __tazpod_status=$?
        __tazpod_now=
        [[ -r $TAZPOD_VAULT/.tazpod/generation ]] &&
            read -r __tazpod_now < "$TAZPOD_VAULT/.tazpod/generation"
        if [[ $__tazpod_now != "$__tazpod_generation" ]]; then
            __tazpod_generation=$__tazpod_now
            eval "$(command tazpod env)"
        fi
        return $__tazpod_status
    }
    if [ -n "${ZSH_VERSION-}" ]; then
        precmd_functions+=(__tazpod_refresh)
    elif ((BASH_VERSINFO[0] * 100 + BASH_VERSINFO[1] >= 501)); then
        PROMPT_COMMAND+=(__tazpod_refresh)
    else  # one string: the user's commands, a newline, the hook
        __tazpod_newline=$'\\n'
        PROMPT_COMMAND="${PROMPT_COMMAND:+$PROMPT_COMMAND$__tazpod_newline}__tazpod_refresh"
    fi
fi
unset TAZPOD_GENERATION
"""

_ZSHRC = """\
# tazpod: zsh's start-up file in the enclave (ZDOTDIR), written at every unlock.
. "$TAZPOD_VAULT/.tazpod/refresh.sh"
"""

# Python before 3.13 writes ~/.python_history from site's interactive hook: replace the hook.
_PYTHON_STARTUP = """\
import os, sys
def _tazpod_history():
    try:
        import atexit, readline
    except ImportError:
        return
    os.makedirs(os.environ["XDG_STATE_HOME"], mode=0o700, exist_ok=True)
    path = os.path.join(os.environ["XDG_STATE_HOME"], "python_history")
    try:
        readline.read_history_file(path)
    except OSError:
        pass
    atexit.register(readline.write_history_file, path)
    readline.parse_and_bind("tab: complete")
sys.__interactivehook__ = _tazpod_history
"""


def write_shell_files(vault_root: Path) -> None:
    """Run as the enclave's user, with the vault mounted at ``vault_root``."""
    control = vault_root / CONTROL_DIR
    for directory in (control, control / "cache", control / "tmp"):
        directory.mkdir(mode=0o700, exist_ok=True)
    files = (
        (RC_NAME, _RC),
        (REFRESH_NAME, _REFRESH),
        (ZSHRC_NAME, _ZSHRC),
        ("python_startup.py", _PYTHON_STARTUP),
    )
    for name, text in files:
        path = control / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(text)


def ensure_state_dir(vault_root: Path) -> None:
    """For an interactive shell (its histories); a plain `tazpod run` adds nothing to the vault.

    Run as the enclave's user. Programs that keep state make their own directories in it.
    """
    (vault_root / STATE_DIR).mkdir(mode=0o700, exist_ok=True)


def shell_argv(shell: str, mount_point: Path) -> list[str]:
    """The interactive enclave shell, started from tazpod's file, never the home's."""
    rc = str(mount_point / CONTROL_DIR / RC_NAME)
    name = os.path.basename(shell)
    if name == "bash":
        return [shell, "--noprofile", "--rcfile", rc, "-i"]
    # sh reads $ENV (set below) and zsh $ZDOTDIR: neither is a login shell, so no ~/.profile.
    return [shell, "-i"] if name in ("sh", "dash", "ash", "zsh") else [shell]


def state_environment(mount_point: Path, shell: str) -> dict[str, str]:
    """Variables that keep histories, state and caches inside the enclave."""
    state = mount_point / STATE_DIR
    control = mount_point / CONTROL_DIR
    env = {
        "XDG_STATE_HOME": str(state),
        "XDG_CACHE_HOME": str(control / "cache"),
        # Sockets and temp files of the enclave's programs (tmux's server above all: its
        # socket in the shared /tmp would let any session of the user type into the enclave).
        "TMPDIR": str(control / "tmp"),
        "TMUX_TMPDIR": str(control / "tmp"),
        "HISTFILE": str(state / "bash_history"),
        "LESSHISTFILE": str(state / "lesshst"),
        "PYTHON_HISTORY": str(state / "python_history"),
        "PYTHONSTARTUP": str(control / "python_startup.py"),
        "NODE_REPL_HISTORY": str(state / "node_repl_history"),
        "SQLITE_HISTORY": str(state / "sqlite_history"),
        "PSQL_HISTORY": str(state / "psql_history"),
        "MYSQL_HISTFILE": str(state / "mysql_history"),
        "REDISCLI_HISTFILE": str(state / "rediscli_history"),
        "INPUTRC": INPUTRC if os.path.exists(INPUTRC) else "/dev/null",
    }
    if os.path.basename(shell) in ("sh", "dash", "ash"):
        env["ENV"] = str(control / RC_NAME)
    if os.path.basename(shell) == "zsh":
        env["ZDOTDIR"] = str(control)  # zsh reads $ZDOTDIR/.zshrc: the prompt hook only
    return env
