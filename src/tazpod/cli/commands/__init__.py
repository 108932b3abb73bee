"""The commands: one module each, and this registry of their names and one-line summaries.

A command module has ``configure(parser)`` for its arguments (absent when it takes none, so
that it runs without argparse) and ``run(args, ui) -> int``. Its summary lives here, not in
the module, so that `tazpod --help` imports no command module (start-up time; tested).
Second-level commands (`vault status`) are modules named ``<command>_<action>``.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import ModuleType

SUMMARIES = {
    "init": "create .tazpod/ and secrets.yml in this directory",
    "status": "show the project, its container and its vault",
    "doctor": "check the container, settings, vault files and kernel; probe an open enclave",
    "trust": "approve this project's settings (config.yaml) on this machine",
    "up": "build the image if needed and start the project's container",
    "down": "remove the container (the workspace and vault stay)",
    "workspace": "kubernetes: push/pull the project to/from the pod",
    "ssh": "a shell in the container as its user (--stdio: ssh's ProxyCommand)",
    "ssh-config": "an ssh Host entry for this project (ssh, scp, rsync, git, IDEs)",
    "exec": "run one command in the container as its user",
    "build": "(re)build the project's image",
    "list": "every tazpod container on this engine",
    "unlock": "open the vault in a private enclave shell",
    "lock": "save the vault and end the enclave (in it, or from outside as root)",
    "run": "open the vault, run one command in the enclave, save, close",
    "vault": "vault status, save, passphrase change, backend migration",
    "pull": "sync secrets from Infisical into the vault",
    "login": "log in to Infisical; the session stays in the vault",
    "env": 'inside the enclave: variables for eval "$(tazpod env)"',
    "secrets": "secrets kept in the vault without Infisical",
    "image": "images without a registry",
    "reinit": "destroy the vault and its contents, after asking",
}
ACTION_SUMMARIES = {
    "vault_status": "the vault's backend, files and state",
    "vault_save": "from inside the enclave: save the vault now",
    "vault_passwd": "change the vault passphrase",
    "vault_migrate": "move the vault's content to the other backend",
}
# Root's side in the container of what the host starts there, and `run --mask`'s wrapper
# in the enclave (not shown in --help).
INTERNAL_SUMMARIES = {
    "ssh-serve": "root in the container: sshd -i for one `tazpod ssh --stdio` connection",
    "container-init": "the dev container's first process: init, and root's opener",
    "container-approve": "root in the container: the opener's approval, from the host's trust",
    "doctor-probe": "in the container: `tazpod doctor`'s live probes of an open enclave",
    "mask": "in the enclave: run a command with secret values hidden in its output (run --mask)",
}
NAMES = tuple(SUMMARIES)
INTERNAL = tuple(INTERNAL_SUMMARIES)
ALIASES = {"enter": "ssh", "sync": "pull"}


def aliases_of(name: str) -> list[str]:
    return [alias for alias, target in ALIASES.items() if target == name]


def summary(module: str) -> str:
    name = module.replace("_", "-")
    return (
        SUMMARIES.get(module)
        or SUMMARIES.get(name)
        or INTERNAL_SUMMARIES.get(name)
        or ACTION_SUMMARIES[module]
    )


def load(module: str) -> ModuleType:
    """A command module by its name under this package (`vault_status` for `vault status`)."""
    import sys

    qualified = f"{__name__}.{module.replace('-', '_')}"
    __import__(qualified)  # (importlib's own import costs `tazpod env` ~0.4 ms)
    return sys.modules[qualified]
