"""The vertical catalogue: each image tazpod builds, what it adds, and what it is built on."""

from __future__ import annotations

from tazpod import __version__

VERTICALS: dict[str, str] = {
    "base": "editor, shell tools, git, python, age and cryptsetup",
    "infisical": "base + the Infisical CLI",
    "k8s": "infisical + kubectl, helm, k9s, stern, talosctl",
    "gemini": "k8s + the Gemini CLI (on Node.js 22)",
}
VERTICAL_PARENT: dict[str, str] = {"infisical": "base", "k8s": "infisical", "gemini": "k8s"}
DEFAULT_VERTICAL = "k8s"


def vertical_image(vertical: str) -> str:
    """The image name tazpod builds for a vertical (locally, from images/)."""
    return f"tazpod-{vertical}:{__version__}"


def vertical_chain(vertical: str) -> list[str]:
    """The verticals an image of ``vertical`` is built on, base first, itself last."""
    chain = [vertical]
    while chain[0] in VERTICAL_PARENT:
        chain.insert(0, VERTICAL_PARENT[chain[0]])
    return chain
