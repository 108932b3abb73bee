"""Each command's argument parser, built only when that command runs.

``tazpod.cli.table`` lists the commands; ``CONFIGURE`` adds each one's arguments.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from tazpod.cli.table import COMMANDS

Configure = Callable[[argparse.ArgumentParser], None]
VERTICAL_CHOICES = ("base", "infisical", "k8s", "gemini")
ENGINE_CHOICES = ("docker", "podman", "kubernetes")
BACKEND_CHOICES = ("ram", "luks")


def _size(text: str) -> int:
    from tazpod.project.config import parse_size_mib

    try:
        return parse_size_mib(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from err


def _passphrase(parser: argparse.ArgumentParser) -> None:
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


def _remainder(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- CMD [ARGS...]")


def _init(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "vertical",
        nargs="?",
        metavar="VERTICAL",
        help=f"one of {', '.join(VERTICAL_CHOICES)} (default: k8s)",
    )
    p.add_argument("--force", action="store_true", help="rewrite an existing .tazpod/config")


def _run(p: argparse.ArgumentParser) -> None:
    _passphrase(p)
    p.add_argument("--sync", action="store_true", help="pull secrets first (tazpod pull)")
    _remainder(p)


def _pull(p: argparse.ArgumentParser) -> None:
    _passphrase(p)
    p.add_argument("--exec", action="store_true", help="then run the command after --")
    _remainder(p)


def _login(p: argparse.ArgumentParser) -> None:
    _passphrase(p)
    p.add_argument("--client-id", metavar="ID", help="machine identity client id")
    p.add_argument("--client-secret-file", metavar="FILE", help="read the client secret from FILE")
    p.add_argument("--cli", action="store_true", help="use the Infisical CLI's user login")


def _vault(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(title="vault commands", metavar="ACTION", required=True)
    sub.add_parser("status", help="the vault's backend, files and state").set_defaults(
        command="vault_status"
    )
    sub.add_parser("save", help="from inside the enclave: save the vault now").set_defaults(
        command="vault_save"
    )
    passwd = sub.add_parser("passwd", help="change the vault passphrase")
    passwd.set_defaults(command="vault_passwd")
    _passphrase(passwd)
    passwd.add_argument(
        "--new-passphrase-file", metavar="FILE", help="read the new passphrase from FILE"
    )
    migrate = sub.add_parser("migrate", help="move the vault's content to the other backend")
    migrate.set_defaults(command="vault_migrate")
    migrate.add_argument("--to", required=True, choices=BACKEND_CHOICES, help="the new backend")
    migrate.add_argument(
        "--size", type=_size, metavar="SIZE", help="the new vault's size (default: its backend's)"
    )
    _passphrase(migrate)


def _secrets(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(title="actions", metavar="ACTION", required=True)
    for action, text in (
        ("list", "names and sources, never values"),
        ("set", "store NAME (value from stdin or a hidden prompt)"),
        ("unset", "remove a local secret"),
        ("import", "store every secret of a dotenv FILE"),
    ):
        parser = sub.add_parser(action, help=text)
        parser.set_defaults(action=action)
        _passphrase(parser)
        if action in ("set", "unset"):
            parser.add_argument("name", metavar="NAME")
        if action == "import":
            parser.add_argument("file", metavar="FILE")


def _up(p: argparse.ArgumentParser) -> None:
    p.add_argument("--replace", action="store_true", help="recreate the container")


def _build(p: argparse.ArgumentParser) -> None:
    p.add_argument("--all", action="store_true", help="also rebuild the verticals below this one")


def _exec(p: argparse.ArgumentParser) -> None:
    p.set_defaults(mode="exec")
    _remainder(p)


def _ssh(p: argparse.ArgumentParser) -> None:
    p.set_defaults(mode="shell")


def _list(p: argparse.ArgumentParser) -> None:
    p.add_argument("--engine", choices=ENGINE_CHOICES, help="default: this project's, else docker")


def _image(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(title="image commands", metavar="ACTION", required=True)
    boot = sub.add_parser("bootstrap", help="a base image from a Debian/Ubuntu mirror")
    boot.add_argument("--suite", default="bookworm", help="distribution suite (default bookworm)")
    boot.add_argument("--mirror", default="http://deb.debian.org/debian", help="package mirror")
    boot.add_argument("--keyring", help="keyring for the suite (e.g. Ubuntu's)")
    boot.add_argument("--components", help="archive areas (default main; main,universe for Ubuntu)")
    boot.add_argument("--tag", help="image tag (default tazpod-bootstrap:SUITE)")
    boot.add_argument("--engine", default="docker", choices=ENGINE_CHOICES[:2])


def _down(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--purge", action="store_true", help="kubernetes: also delete the workspace volume"
    )


def _workspace(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(title="workspace commands", metavar="ACTION", required=True)
    sub.add_parser("push", help="copy this project into the pod's /workspace").set_defaults(
        action="push"
    )
    sub.add_parser("pull", help="copy the pod's /workspace into this project").set_defaults(
        action="pull"
    )
    files = sub.add_parser("files", help="list what a copy from here carries")
    files.set_defaults(action="files")
    files.add_argument("-0", "--null", action="store_true", help="NUL-separated (for tar -T)")


def _reinit(p: argparse.ArgumentParser) -> None:
    p.add_argument("--yes", action="store_true", help="do not ask (for scripts)")


def _nothing(_p: argparse.ArgumentParser) -> None:
    pass


CONFIGURE: dict[str, Configure] = {
    "init": _init,
    "up": _up,
    "build": _build,
    "ssh": _ssh,
    "exec": _exec,
    "list": _list,
    "unlock": _passphrase,
    "run": _run,
    "vault": _vault,
    "pull": _pull,
    "login": _login,
    "secrets": _secrets,
    "image": _image,
    "reinit": _reinit,
    "down": _down,
    "workspace": _workspace,
}


def command_parser(name: str) -> argparse.ArgumentParser:
    module, text, _aliases = COMMANDS[name]
    parser = argparse.ArgumentParser(prog=f"tazpod {name}", description=text)
    parser.set_defaults(command=module)
    CONFIGURE.get(name, _nothing)(parser)
    return parser


def full_parser() -> argparse.ArgumentParser:
    """Every command at once: for shell completion only (it is the slow way)."""
    parser = argparse.ArgumentParser(prog="tazpod")
    parser.add_argument("--version", action="store_true")
    parser.add_argument("--debug", action="store_true")
    sub = parser.add_subparsers(metavar="COMMAND")
    for name, (module, text, aliases) in COMMANDS.items():
        child = sub.add_parser(name, help=text, aliases=aliases)
        child.set_defaults(command=module)
        CONFIGURE.get(name, _nothing)(child)
    return parser
