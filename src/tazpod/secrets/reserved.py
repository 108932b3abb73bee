"""The one list of variable names no secret may set, whichever way it would be set.

A secret that sets one of these changes how programs start or what they run (a shell's
start-up file, the dynamic loader, an interpreter's module path, git's hooks and
commands), or tazpod itself; in an enclave that would hand the secrets' source (or
whoever can write secrets.yml) a way to run code. They apply to dotenv secrets (pulled or
set by hand) and to file mappings alike. It is a list of what is known to be dangerous,
not a guarantee: a secret's name is a variable the enclave's programs will see. Plain
data: this runs on every `tazpod env`.
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
        # more start-up and configuration hooks of shells, editors and common tools
        *("PS0", "HISTCONTROL", "HISTIGNORE", "HISTSIZE", "HISTFILESIZE", "FCEDIT"),
        *("BASH_LOADABLES_PATH", "POSIXLY_CORRECT", "ZDOTDIR", "TERMINFO", "TERMINFO_DIRS"),
        *("VIMINIT", "EXINIT", "MYVIMRC", "GVIMINIT", "NVIM_APPNAME", "EMACSLOADPATH"),
        *("LESS", "LESSKEYIN", "MANOPT", "MANPATH", "MAKEFILES", "MAKEFLAGS", "MAKELEVEL"),
        *("XDG_CONFIG_DIRS", "XDG_DATA_DIRS", "TMUX", "TMUX_TMPDIR", "SCREENDIR", "GNUPGHOME"),
        *("CURL_HOME", "WGETRC", "OPENSSL_CONF", "OPENSSL_ENGINES", "OPENSSL_MODULES"),
        *("SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"),
        *("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"),
        *("NO_PROXY", "no_proxy", "ftp_proxy", "FTP_PROXY", "RUBYLIB", "GEM_HOME", "GEM_PATH"),
    }
)
# Whole families: loaders, interpreters' paths and hooks, git's commands and config, package
# managers' configuration (an index URL or a script hook), ssh's agent and askpass.
RESERVED_PREFIXES = (
    *("TAZPOD_", "LD_", "DYLD_", "PYTHON", "PERL5", "BASH_FUNC_", "GIT_", "SSH_"),
    *("NPM_CONFIG_", "npm_config_", "PIP_", "UV_", "CARGO_", "RUSTUP_", "GOFLAGS", "MALLOC_"),
)


def is_reserved(name: str) -> bool:
    return name in RESERVED_NAMES or name.startswith(RESERVED_PREFIXES)


_WORD_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")


def is_identifier(name: str) -> bool:
    """A shell variable name: ASCII letters, digits and _, not starting with a digit.

    (No `re` here: `tazpod env` runs on every prompt, and importing re costs more than
    everything else it does.)
    """
    return bool(name) and not name[0].isdigit() and _WORD_CHARS.issuperset(name)
