"""Every command once: name -> (module under tazpod.cli.commands, one-line help, aliases).

Plain data, importable in a millisecond: `tazpod --help` prints from it alone.
"""

from __future__ import annotations

COMMANDS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "init": ("init", "create .tazpod/ and secrets.yml in this directory", ()),
    "status": ("status", "show the project, its container and its vault", ()),
    "up": ("up", "build the image if needed and start the project's container", ()),
    "down": ("down", "remove the container (the workspace and vault stay)", ()),
    "workspace": ("workspace", "kubernetes: push/pull the project to/from the pod", ()),
    "ssh": ("ssh", "a shell in the container as its user", ("enter",)),
    "exec": ("ssh", "run one command in the container as its user", ()),
    "build": ("build", "(re)build the project's image", ()),
    "list": ("list", "every tazpod container on this engine", ()),
    "unlock": ("unlock", "open the vault in a private enclave shell", ()),
    "lock": ("lock", "from inside the enclave: save the vault and end the enclave", ()),
    "run": ("run", "open the vault, run one command in the enclave, save, close", ()),
    "vault": ("vault", "vault status, save, passphrase change, backend migration", ()),
    "pull": ("pull", "sync secrets from Infisical into the vault", ("sync",)),
    "login": ("login", "log in to Infisical; the session stays in the vault", ()),
    "env": ("env", 'inside the enclave: variables for eval "$(tazpod env)"', ()),
    "secrets": ("secrets", "secrets kept in the vault without Infisical", ()),
    "image": ("image", "images without a registry", ()),
    "reinit": ("reinit", "destroy the vault and its contents, after asking", ()),
}
# Commands that take no arguments at all (no options, no operands).
WITHOUT_ARGUMENTS = frozenset({"status", "lock", "env"})
ALIASES = {alias: name for name, (_m, _h, aliases) in COMMANDS.items() for alias in aliases}
