"""What the Docker and Podman engines tell the user when the engine says no.

Both engines import these (neither imports the other): the same registry trouble
and the same resource-limit trouble read alike whichever engine met them.
"""

from __future__ import annotations

PULL_HINT = (
    "no registry reachable? `tazpod image bootstrap` builds a base image from a package"
    " mirror; then set build: {args: {BASE_IMAGE: tazpod-bootstrap:bookworm}}"
)
RLIMIT_HINT = (
    "this host does not let containers keep its resource limits; set them explicitly in"
    " .tazpod/config.yaml, e.g. ulimits: [nofile=20000:20000, nproc=32768:32768]"
)
USERNS_HOST_NETWORK_HINT = (
    "this engine remaps users (user namespaces), which cannot share the host's network:"
    " set network: none in .tazpod/config.yaml (then `tazpod trust`)"
)


def create_hint(error: str) -> str | None:
    if "rlimit" in error:
        return RLIMIT_HINT
    if "host's network namespace" in error and "user namespaces" in error:
        return USERNS_HOST_NETWORK_HINT
    return None


_REGISTRY_TROUBLE = (
    "pull access denied",
    "manifest unknown",
    "no such host",
    "dial tcp",
    "registry",
    "i/o timeout",
    "connection refused",
    "not found: manifest",
)


def build_hint(error: str) -> str:
    if any(marker in error.lower() for marker in _REGISTRY_TROUBLE):
        return PULL_HINT
    return "the build log above shows the failing step"


def unreachable_hint(error: str) -> str:
    """A Docker engine that runs but refuses this user differs from one that is not running."""
    if "permission denied" in error.lower():
        return (
            "the engine runs, but this user may not use its socket: ask an administrator to"
            " run `sudo usermod -aG docker $USER` (then log in again), or use tazpod with"
            " sudo; note that the docker group is root-equivalent on this host"
        )
    return (
        "start it (e.g. `sudo systemctl start docker`), or check DOCKER_HOST and that you may"
        " use its socket"
    )
