"""The one list of variable names no secret may set, whichever way it would be set.

A secret that sets one of these changes how programs start or what they run (a shell's
start-up file, the dynamic loader, an interpreter's module path, git's hooks and
commands), or tazpod itself; in an enclave that would hand the secrets' source (or
whoever can write secrets.yml) a way to run code. They apply to dotenv secrets (pulled or
set by hand) and to file mappings alike. Plain data: this runs on every `tazpod env`.
"""

from __future__ import annotations

RESERVED_NAMES = frozenset(
    {
        # the shell and the session
        *("PATH", "HOME", "USER", "LOGNAME", "SHELL", "PWD", "OLDPWD", "IFS", "CDPATH"),
        *("PS1", "PS2", "PS3", "PS4", "ENV", "BASH_ENV", "PROMPT_COMMAND", "SHELLOPTS"),
        *("BASHOPTS", "GLOBIGNORE", "HISTFILE", "INPUTRC", "TMOUT", "TERM", "TMPDIR"),
        *("MAIL", "MAILPATH", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME"),
        *("XDG_CACHE_HOME", "XDG_RUNTIME_DIR", "SSH_AUTH_SOCK", "SSH_ASKPASS", "SUDO_ASKPASS"),
        # programs other programs start
        *("EDITOR", "VISUAL", "PAGER", "MANPAGER", "BROWSER", "LESSOPEN", "LESSCLOSE"),
        *("LESSKEY", "LESSHISTFILE"),
        # interpreters' and runtimes' start-up hooks
        *("NODE_OPTIONS", "NODE_PATH", "RUBYOPT", "RUBYLIB", "PERLLIB", "JAVA_TOOL_OPTIONS"),
        *("_JAVA_OPTIONS", "JDK_JAVA_OPTIONS", "GCONV_PATH", "LOCPATH", "NLSPATH"),
        *("HOSTALIASES", "RESOLV_HOST_CONF"),
    }
)
RESERVED_PREFIXES = ("TAZPOD_", "LD_", "DYLD_", "PYTHON", "PERL5", "BASH_FUNC_", "GIT_")


def is_reserved(name: str) -> bool:
    return name in RESERVED_NAMES or name.startswith(RESERVED_PREFIXES)
