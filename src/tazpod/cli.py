"""The command surface: parse arguments, call a command, map errors to exit codes.

Command modules under ``tazpod.commands`` are imported only when their
command runs, so `tazpod --version`, `--help` and in-enclave commands start
fast and never load host-only libraries.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from tazpod import __version__
from tazpod.errors import ExitCode, TazpodError
from tazpod.ui import UI

VERTICAL_CHOICES = ("base", "infisical", "k8s", "gemini")


def _passphrase_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--passphrase-file",
        metavar="FILE",
        help="read the passphrase from the first line of FILE (never pass it as an argument)",
    )
    group.add_argument(
        "--passphrase-fd",
        metavar="FD",
        type=int,
        help="read the passphrase from inherited file descriptor FD, e.g. 3 with 3<file",
    )


def _command(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    module: str,
    help_text: str,
    aliases: Sequence[str] = (),
) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(name, help=help_text, description=help_text, aliases=aliases)
    parser.set_defaults(command=module)
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tazpod",
        description="Zero-trust development environments: a dev container per project and an"
        " encrypted vault that opens only inside one shell's private namespace.",
    )
    parser.add_argument("--version", action="version", version=f"tazpod {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug messages")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    init = _command(sub, "init", "init", "create .tazpod/ and secrets.yml in this directory")
    init.add_argument(
        "vertical",
        nargs="?",
        metavar="VERTICAL",
        help=f"one of {', '.join(VERTICAL_CHOICES)} (default: k8s)",
    )
    init.add_argument("--force", action="store_true", help="rewrite an existing .tazpod/config")

    _command(sub, "status", "status", "show the project, its configuration and its vault")

    unlock = _command(sub, "unlock", "unlock", "open the vault in a private enclave shell")
    _passphrase_options(unlock)

    _command(sub, "lock", "lock", "from inside the enclave: save the vault and end the enclave")

    run = _command(
        sub, "run", "run", "open the vault, run one command inside the enclave, save, close"
    )
    _passphrase_options(run)
    run.add_argument("--sync", action="store_true", help="pull secrets first (tazpod pull)")
    run.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- CMD [ARGS...]")

    vault = sub.add_parser("vault", help="vault status, save and passphrase change")
    vault_sub = vault.add_subparsers(title="vault commands", metavar="ACTION", required=True)
    _command(vault_sub, "status", "vault_status", "show the vault's backend, files and state")
    _command(vault_sub, "save", "vault_save", "from inside the enclave: save the vault now")
    passwd = _command(vault_sub, "passwd", "vault_passwd", "change the vault passphrase")
    _passphrase_options(passwd)
    passwd.add_argument(
        "--new-passphrase-file", metavar="FILE", help="read the new passphrase from FILE"
    )

    pull = _command(
        sub, "pull", "pull", "sync secrets from Infisical into the vault", aliases=("sync",)
    )
    _passphrase_options(pull)
    pull.add_argument("--exec", action="store_true", help="then run the command after --")
    pull.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- CMD [ARGS...]")

    login = _command(sub, "login", "login", "log in to Infisical; the session stays in the vault")
    _passphrase_options(login)
    login.add_argument("--client-id", metavar="ID", help="machine identity client id")
    login.add_argument(
        "--client-secret-file", metavar="FILE", help="read the client secret from FILE"
    )
    login.add_argument("--cli", action="store_true", help="use the Infisical CLI's user login")

    _command(sub, "env", "env", 'inside the enclave: variables for eval "$(tazpod env)"')

    secrets = sub.add_parser("secrets", help="secrets kept in the vault without Infisical")
    secrets_sub = secrets.add_subparsers(title="actions", metavar="ACTION", required=True)
    listing = _command(secrets_sub, "list", "secrets", "names and sources, never values")
    listing.set_defaults(action="list")
    for action, text in (
        ("set", "store NAME (value from stdin or a hidden prompt)"),
        ("unset", "remove a local secret"),
    ):
        parser_ = _command(secrets_sub, action, "secrets", text)
        parser_.set_defaults(action=action)
        parser_.add_argument("name", metavar="NAME")
    imported = _command(secrets_sub, "import", "secrets", "store every secret of a dotenv FILE")
    imported.set_defaults(action="import")
    imported.add_argument("file", metavar="FILE")
    for parser_ in secrets_sub.choices.values():
        _passphrase_options(parser_)

    up = _command(sub, "up", "up", "build the image if needed and start the project's container")
    up.add_argument("--replace", action="store_true", help="recreate the container")
    _command(sub, "down", "down", "remove the container (the workspace and vault stay)")
    ssh = _command(sub, "ssh", "ssh", "a shell in the container as its user", aliases=("enter",))
    ssh.set_defaults(mode="shell")
    exec_ = _command(sub, "exec", "ssh", "run one command in the container as its user")
    exec_.set_defaults(mode="exec")
    exec_.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- CMD [ARGS...]")
    _command(sub, "build", "build", "(re)build the project's image")
    listing_ = _command(sub, "list", "list", "every tazpod container on this engine")
    listing_.add_argument(
        "--engine", choices=("docker", "podman"), help="default: this project's, else docker"
    )
    image = sub.add_parser("image", help="images without a registry")
    image_sub = image.add_subparsers(title="image commands", metavar="ACTION", required=True)
    boot = _command(image_sub, "bootstrap", "image", "a base image from a Debian/Ubuntu mirror")
    boot.add_argument("--suite", default="bookworm", help="distribution suite (default bookworm)")
    boot.add_argument("--mirror", default="http://deb.debian.org/debian", help="package mirror")
    boot.add_argument("--keyring", help="keyring for the suite (e.g. Ubuntu's)")
    boot.add_argument("--tag", help="image tag (default tazpod-bootstrap:SUITE)")
    boot.add_argument("--engine", default="docker", choices=("docker", "podman"))

    reinit = _command(sub, "reinit", "reinit", "destroy the vault and its contents, after asking")
    reinit.add_argument("--yes", action="store_true", help="do not ask (for scripts)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    if "_ARGCOMPLETE" in os.environ:
        import argcomplete

        argcomplete.autocomplete(parser)
    args = parser.parse_args(argv)
    debug = bool(args.debug) or os.environ.get("TAZPOD_DEBUG") == "true"
    ui = UI()
    if not getattr(args, "command", None):
        parser.print_help(sys.stderr)
        return int(ExitCode.USAGE)
    try:
        module = importlib.import_module(f"tazpod.commands.{args.command}")
        return int(module.run(args, ui))
    except TazpodError as err:
        ui.error(err.message, err.hint)
        return int(err.exit_code)
    except KeyboardInterrupt:
        ui.error("interrupted")
        return int(ExitCode.INTERRUPTED)
    except Exception as err:
        if debug:
            import traceback

            traceback.print_exc()
        ui.error(
            f"internal error: {type(err).__name__}",
            hint="run again with --debug for the traceback, and report it",
        )
        return int(ExitCode.INTERNAL)
