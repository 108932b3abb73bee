"""Building the project's image: a custom Dockerfile, or a vertical and those below it.

The verticals stack: base <- infisical <- k8s <- gemini. Each is built from its
Dockerfile in images/ with a context tazpod prepares: base gets this tazpod as wheels
(tazpod-src/), the others their third-party tools, verified and pinned (tools/, see
tazpod.images.artifacts). No step of an image build downloads anything itself.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import platform
import shutil
import sys
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import cast

from tazpod import __version__
from tazpod.engines.base import Engine, Progress, StageBuilder
from tazpod.errors import ConfigError, EngineError
from tazpod.project import build_files
from tazpod.project.locate import Project
from tazpod.project.schema import ProjectConfig
from tazpod.project.verticals import vertical_chain, vertical_image
from tazpod.sysio.environ import Inherit, child_env
from tazpod.sysio.run import CommandFailed, run

IMAGES = Path(__file__).parent
PYTHONS = ("3.11", "3.12", "3.13")  # Debian 12, Ubuntu 24.04, Debian 13


@contextlib.contextmanager
def vertical_context(
    vertical: str, project: Project, progress: Progress, build_args: Mapping[str, str]
) -> Iterator[Path]:
    """A temporary build context for one vertical: its Dockerfile and what it copies."""
    source = IMAGES / vertical
    if not (source / "Dockerfile").is_file():
        raise EngineError(
            f"the {vertical} vertical's image is not part of this installation of tazpod",
            hint=f"reinstall tazpod ({source / 'Dockerfile'} is missing)",
        )
    with tempfile.TemporaryDirectory(prefix="tazpod-build-") as tmp:
        context = Path(tmp)
        shutil.copy(source / "Dockerfile", context / "Dockerfile")
        if vertical == "base":
            write_wheels(context / "tazpod-src", progress)
        listing = source / "artifacts.toml"
        if listing.is_file():
            from tazpod.images.artifacts import stage

            stage(listing, project.config_dir, context / "tools", progress, build_args)
        yield context


def _write_source(target: Path) -> None:
    """A minimal installable project of the running tazpod (editable or wheel install)."""
    package = Path(__file__).parent.parent
    shutil.copytree(
        package, target / "src" / "tazpod", ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
    )
    lines = [
        "[build-system]",
        'requires = ["setuptools>=68"]',
        'build-backend = "setuptools.build_meta"',
        "[project]",
        'name = "tazpod"',
        f'version = "{__version__}"',
        'requires-python = ">=3.11"',
        "dependencies = [" + ", ".join(f'"{d}"' for d in _dependencies()) + "]",
        "[project.scripts]",
        'tazpod = "tazpod.cli.main:main"',
        "[tool.setuptools.packages.find]",
        'where = ["src"]',
    ]
    (target / "pyproject.toml").write_text("\n".join(lines) + "\n")


def _dependencies() -> list[str]:
    try:
        requires = importlib.metadata.requires("tazpod") or []
    except importlib.metadata.PackageNotFoundError:
        requires = []
    return [r for r in requires if "extra ==" not in r]


def _pip(args: list[str], progress: Progress) -> None:
    # The user's whole environment: pip finds its index, proxy and certificates there.
    env = child_env(inherit=Inherit.EVERYTHING)
    try:
        run([sys.executable, "-m", "pip", *args], env=env)
    except CommandFailed as err:
        raise EngineError(
            f"preparing tazpod for the image failed (pip {args[0]}):\n{err.tail(6)}"
        ) from err


def write_wheels(target: Path, progress: Progress) -> None:
    """This tazpod as a wheel, plus its dependencies' wheels for the image's Python.

    The image installs from these alone (`pip install --no-index`): the same version as
    the host's, and no package index (or its certificates) needed inside the build.
    """
    with tempfile.TemporaryDirectory(prefix="tazpod-src-") as tmp:
        _write_source(Path(tmp))
        progress("packing this tazpod as a wheel for the image")
        _pip(["wheel", "--quiet", "--no-deps", "--wheel-dir", str(target), tmp], progress)
    machine = platform.machine()
    platforms = [f"--platform=manylinux{v}_{machine}" for v in ("2014", "_2_17", "_2_28")]
    for version in PYTHONS:
        progress(f"fetching tazpod's dependencies for Python {version}")
        _pip(
            [
                "download",
                "--quiet",
                "--only-binary=:all:",
                f"--python-version={version}",
                *platforms,
                "--dest",
                str(target),
                *_dependencies(),
            ],
            progress,
        )


def approved_build_files(project: Project, config: ProjectConfig) -> dict[str, str]:
    """The Dockerfile, context and local Features as approved, refused when they changed."""
    from tazpod.project import trust

    approved = trust.load_approved_build(project.root)
    rows = build_files.changes(approved, build_files.project_manifest(project, config))
    if rows:
        head = (
            "the custom image's Dockerfile, build context and local Features (built as root"
            " from the workspace) are not the ones you approved"
        )
        shown = rows[:20] + ([f"... and {len(rows) - 20} more"] if len(rows) > 20 else [])
        raise trust.UntrustedConfigError(
            head + "\n" + "\n".join(f"  {row}" for row in shown),
            hint="review them, then run `tazpod trust` on the host to approve them",
        )
    assert approved is not None
    return approved


def _stage(engine: Engine) -> StageBuilder:
    """The engine as one that builds a stage (`build.target`): Docker's and Podman's do."""
    if engine.name not in ("docker", "podman"):
        raise ConfigError(
            f"build.target: engine {engine.name} builds no images",
            hint="build with engine: docker or podman, push the image, and set image:",
        )
    return cast(StageBuilder, engine)


def build_image(
    engine: Engine,
    project: Project,
    config: ProjectConfig,
    progress: Progress,
    rebuild_all: bool = False,
) -> None:
    """Build the project's image; the verticals below it only when missing (or all)."""
    user_args = dict(config.build.args) if config.build else {}
    user_args.setdefault("TAZPOD_VERSION", __version__)
    build = config.build
    if build is not None and build.dockerfile is not None:
        dockerfile = (project.root / build.dockerfile).resolve()
        if not dockerfile.is_file():
            raise ConfigError(f"{project.config_path}: build.dockerfile {dockerfile} not found")
        approved = approved_build_files(project, config)
        progress(f"building {config.image} from {dockerfile} (the approved copy)")
        with build_files.approved_copy(project, build, approved) as copied:
            if build.target is None:
                engine.build(copied.parent / "context", copied, config.image, user_args, progress)
            else:
                _stage(engine).build(
                    copied.parent / "context",
                    copied,
                    config.image,
                    user_args,
                    progress,
                    build.target,
                )
        return
    vertical = config.vertical or "base"
    below: str | None = None
    for step in vertical_chain(vertical):
        image = config.image if step == vertical else vertical_image(step)
        if step != vertical and not rebuild_all and engine.image_exists(image):
            progress(f"using {image} (the {step} vertical) as it is")
        else:
            # The project's build args are for the base (BASE_IMAGE, WITH_LAZYVIM...);
            # the verticals above it take only the image they stand on.
            args = (
                user_args
                if below is None
                else {"TAZPOD_VERSION": __version__, "TAZPOD_BASE": below}
            )
            with vertical_context(step, project, progress, args) as context:
                progress(f"building {image} (the {step} vertical)")
                engine.build(context, context / "Dockerfile", image, args, progress)
        below = image
