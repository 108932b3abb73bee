"""`tazpod init [VERTICAL] [--force]`."""

from __future__ import annotations

import argparse
from pathlib import Path

from tazpod.cli.ui import UI
from tazpod.project.locate import init_project


def configure(parser: argparse.ArgumentParser) -> None:
    from tazpod.project.config import VERTICALS

    parser.add_argument(
        "vertical",
        nargs="?",
        metavar="VERTICAL",
        help=f"one of {', '.join(VERTICALS)} (default: k8s)",
    )
    parser.add_argument("--force", action="store_true", help="rewrite an existing .tazpod/config")
    parser.add_argument(
        "--from-devcontainer",
        nargs="?",
        const="",
        metavar="PATH",
        help="take the container from a devcontainer.json (default: .devcontainer/"
        "devcontainer.json); again later, to import it anew (tazpod's own keys are kept)",
    )


def run(args: argparse.Namespace, ui: UI) -> int:
    if args.from_devcontainer is not None:
        return _from_devcontainer(args, ui)
    from tazpod.project import trust
    from tazpod.project.config import read_project_config
    from tazpod.project.locate import Project
    from tazpod.secrets.mappings import read_secrets_config

    result = init_project(Path.cwd(), args.vertical, args.force)
    project = Project(result.root)
    config = read_project_config(project.config_path).config
    secrets_label = str(project.secrets_path.relative_to(result.root))
    wrote_secrets = secrets_label in result.created
    # A secrets.yml that was there already (a clone's, say) is for the user to review.
    secrets = read_secrets_config(project.secrets_path)[0] if wrote_secrets else None
    trust.approve(result.root, config, secrets)
    ui.say(f"initialized tazpod project ({result.vertical}) in {result.root}")
    for label in result.created:
        ui.say(f"  created   {label}")
    for label in result.replaced:
        ui.say(f"  rewrote   {label}")
    for label in result.kept:
        ui.say(f"  kept      {label} (already present)")
    ui.say(f"container name: {result.container_name}")
    if wrote_secrets:
        ui.say(
            "settings approved on this machine (after editing config.yaml or secrets.yml:"
            " `tazpod trust`)"
        )
    else:
        ui.say(
            f"config.yaml approved on this machine; review the {secrets_label} that was here"
            " already, then approve it with `tazpod trust`"
        )
    ui.say(
        "next: edit secrets.yml and approve it (`tazpod trust`), then `tazpod up` and"
        " `tazpod unlock` for the dev container,"
        " or `sudo tazpod unlock` to open the vault on this host"
    )
    return 0


def _from_devcontainer(args: argparse.Namespace, ui: UI) -> int:
    """Import a devcontainer.json into config.yaml (new project, or anew); never approved:
    the file came with the repository, and its settings are for the user to review."""
    from tazpod.cli.devcontainer import show
    from tazpod.errors import UsageError
    from tazpod.project.devcontainer_json import importer
    from tazpod.project.locate import find_project

    if args.vertical or args.force:
        raise UsageError(
            "--from-devcontainer takes the container from the file: no VERTICAL or --force",
            hint="tazpod init --from-devcontainer [PATH]",
        )
    found = find_project(Path.cwd())
    root = found.root if found is not None else Path.cwd().absolute()
    given = Path(args.from_devcontainer) if args.from_devcontainer else None
    chosen = importer.plan(root, given)
    show(ui, chosen)
    written = importer.write(chosen)
    made, relative = written.made, chosen.project.config_path.relative_to(root)
    if made is not None:
        ui.say(f"initialized tazpod project in {root} from {chosen.imported.source.relative}")
        for label in made.created:
            ui.say(f"  created   {label}")
        for label in made.kept:
            ui.say(f"  kept      {label} (already present)")
        ui.say(f"container name: {made.container_name}")
    else:
        ui.say(f"imported {chosen.imported.source.relative} into {relative} again")
        if written.dropped:
            ui.say(f"  removed   {', '.join(written.dropped)} (no longer in the file)")
    ui.say(
        "review the settings (they came with the repository), then approve them with"
        " `tazpod trust` and start the container with `tazpod up`"
    )
    return 0
