"""`tazpod secrets list|set|unset|import`: secrets kept in the vault without Infisical."""

from __future__ import annotations

import argparse
import getpass
import re
import sys
from pathlib import Path

from tazpod.cli.context import inside_enclave, load_context
from tazpod.cli.entry import rerun_in_enclave
from tazpod.cli.options import action, actions, passphrase_options
from tazpod.cli.ui import UI
from tazpod.errors import UsageError
from tazpod.secrets.value import Secret

# What Infisical allows (anything but `:` and `/`), without blanks or control characters.
_NAME = re.compile(r"^[^\s:/\x00-\x1f\x7f]+$")


def _check_name(name: str) -> str:
    if not _NAME.match(name):
        raise UsageError(
            f"{name!r} is not a secret name (no blanks, control characters, ':' or '/')"
        )
    return name


def configure(parser: argparse.ArgumentParser) -> None:
    sub = actions(parser, "actions")
    for name, text in (
        ("list", "names and sources, never values"),
        ("set", "store NAME (value from stdin or a hidden prompt)"),
        ("unset", "remove a local secret"),
        ("import", "store every secret of a dotenv FILE"),
    ):
        child = action(sub, name, text, action=name)
        passphrase_options(child)
        if name in ("set", "unset"):
            child.add_argument("name", metavar="NAME")
        if name == "import":
            child.add_argument("file", metavar="FILE")


def run(args: argparse.Namespace, ui: UI) -> int:
    if not inside_enclave():
        inner = ["secrets", args.action]
        if args.action in ("set", "unset"):
            inner.append(args.name)
        if args.action == "import":
            inner.append(str(Path(args.file).absolute()))
        return rerun_in_enclave(args, ui, inner)
    from tazpod.secrets import store as secretstore

    root = secretstore.vault_root()
    if args.action == "list":
        return _list(root, ui)
    try:
        _change(args, root, ui)
    except secretstore.VaultFull as err:
        vault = load_context(ui).config.vault
        raise err.explained(vault.backend, vault.size_mib) from err
    return 0


def _change(args: argparse.Namespace, root: Path, ui: UI) -> None:
    from tazpod.secrets import store as secretstore
    from tazpod.secrets.shell import skipped_notice

    if args.action == "set":
        secretstore.set_local(root, _check_name(args.name), _read_value(args.name))
        ui.info(f"stored {args.name} in the vault")
    elif args.action == "unset":
        if not secretstore.unset_local(root, args.name):
            raise UsageError(f"{args.name} is not a local secret", hint="see `tazpod secrets list`")
        ui.info(f"removed {args.name} from the vault")
        return
    else:
        imported = _read_import(Path(args.file), ui)
        updated = secretstore.import_local(root, imported)
        ui.info(
            f"imported {len(imported)} secrets from {args.file}"
            + (f" ({len(updated)} replaced: {', '.join(updated)})" if updated else "")
        )
    notice = skipped_notice([args.name] if args.action == "set" else imported)
    if notice:
        ui.warn(notice)


def _read_import(path: Path, ui: UI) -> dict[str, Secret]:
    """A .env file as python-dotenv reads it; any line it cannot read stops the import."""
    from tazpod.errors import ConfigError
    from tazpod.secrets import dotenv

    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    try:
        parsed = dotenv.read_import(path)
    except OSError as err:
        raise UsageError(f"cannot read {path}: {err.strerror}") from err
    for note in parsed.notes:
        ui.warn(str(note))
    if parsed.problems:
        raise ConfigError(
            "; ".join(str(problem) for problem in parsed.problems),
            hint="fix those lines (or quote their values); nothing was imported",
        )
    return parsed.values


def _read_value(name: str) -> Secret:
    if sys.stdin.isatty():
        value = getpass.getpass(f"value of {name} (not shown): ")
    else:
        value = sys.stdin.read().removesuffix("\n")
    if "\0" in value:
        raise UsageError("a secret cannot contain a NUL byte")
    return Secret(value)


def _list(root: Path, ui: UI) -> int:
    from tazpod.secrets import store as secretstore

    context = load_context(ui)
    for problem in secretstore.problems(root):  # named so it can be repaired from here
        ui.warn(problem)
    rows = secretstore.inventory(root, context.secrets.mappings if context.secrets else ())
    if not rows:
        ui.info("the vault holds no secrets yet (tazpod pull, tazpod secrets set NAME)")
    width = max((len(name) for name, _ in rows), default=0)
    for name, source in rows:
        ui.say(f"{name.ljust(width)}  {source}")
    return 0
