"""`tazpod vault status|save|passwd|migrate`: each action is a module of its own."""

from __future__ import annotations

import argparse

from tazpod.cli.commands import load, summary
from tazpod.cli.options import action, actions

ACTIONS = ("status", "save", "passwd", "migrate")


def configure(parser: argparse.ArgumentParser) -> None:
    sub = actions(parser, "vault commands")
    for name in ACTIONS:
        module = load(f"vault_{name}")
        child = action(sub, name, summary(f"vault_{name}"), command=f"vault_{name}")
        configure_action = getattr(module, "configure", None)
        if configure_action is not None:
            configure_action(child)
