"""`tazpod list`: every tazpod container on this engine, across projects."""

from __future__ import annotations

import argparse

from tazpod.cli.ui import UI


def configure(parser: argparse.ArgumentParser) -> None:
    from tazpod.project.config import ENGINES

    parser.add_argument("--engine", choices=ENGINES, help="default: this project's, else docker")
    parser.add_argument(
        "--json", action="store_true", help="one JSON document on stdout (see the README)"
    )


def run(args: argparse.Namespace, ui: UI) -> int:
    from pathlib import Path

    from tazpod.engines import get_engine
    from tazpod.project.config import load_project_config
    from tazpod.project.locate import find_project

    project = find_project(Path.cwd())
    config = load_project_config(project.config_path).config if project else None
    if project is not None and config is not None and args.engine is None:
        from tazpod.cli.context import read_secrets, require_approved

        # the engine and its Kubernetes context are the project's settings: as approved
        require_approved(project, config, read_secrets(project, ui))
    name = args.engine or (config.engine if config else "docker")
    engine = get_engine(name, config.kubernetes if config else None)
    found = engine.list_managed()
    if getattr(args, "json", False):
        import json

        containers = [
            {
                "name": c.name,
                "id": c.id,
                "state": c.state,
                "image": c.image,
                "tazpod": c.version,
                "project": c.project,
            }
            for c in found
        ]
        document = {"version": 1, "engine": name, "containers": containers}
        ui.out.write(json.dumps(document, indent=2) + "\n")
        ui.out.flush()
        return 0
    rows = [(c.name, c.state, c.image, c.version or "?", c.project or "?") for c in found]
    if not rows:
        ui.say("no tazpod containers")
        return 0
    header = ("NAME", "STATE", "IMAGE", "TAZPOD", "PROJECT")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(5)]
    for row in [header, *rows]:
        ui.say("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
    return 0
