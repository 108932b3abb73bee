"""A custom image's Dockerfile and build context, as the user approved them.

With `build.dockerfile`, the host builds (as root in the image) what the workspace holds,
and every session in the container can write the workspace: approving the path of a
Dockerfile is not approving what it says. So `tazpod trust` records the digest of the
Dockerfile and of every file in the build context, and a build uses a copy of exactly
those files (each one checked against its digest as it is copied), never the live
directory. Left out of the context: the project's `.git` (it changes with every commit)
and its vault directory. The same holds for the folders of local Dev Container Features
(`devcontainer_features:`), whose install.sh runs as root in the image's build.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tazpod.errors import ConfigError
from tazpod.project.locate import Project
from tazpod.project.schema import BuildConfig, ProjectConfig

# "Dockerfile", "context/<path>" or "feature/<folder>/<path>" -> "sha256:..." / "symlink:..."
Manifest = dict[str, str]
DOCKERFILE = "Dockerfile"
_CONTEXT = "context/"
FEATURE = "feature/"


def custom(build: BuildConfig | None) -> bool:
    return build is not None and build.dockerfile is not None


def needed(config: ProjectConfig) -> bool:
    """Whether the project's image is built from files of the project's."""
    return custom(config.build) or bool(config.devcontainer_features)


def project_manifest(project: Project, config: ProjectConfig) -> Manifest:
    """The digests of every file of the project's that its image is built from."""
    found = manifest(project, config.build) if config.build and custom(config.build) else {}
    for feature in config.devcontainer_features:
        found.update(_folder(project, project.root / feature.path, f"{FEATURE}{feature.path}/"))
    return found


def _digest(path: Path, copy_to: Path | None = None) -> str:
    """The file's digest (never through a link), copied to ``copy_to`` as it is read."""
    sha = hashlib.sha256()
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as reader, contextlib.ExitStack() as stack:
        writer = stack.enter_context(open(copy_to, "wb")) if copy_to is not None else None
        for block in iter(lambda: reader.read(1 << 20), b""):
            sha.update(block)
            if writer is not None:
                writer.write(block)
    return "sha256:" + sha.hexdigest()


def _places(project: Project, build: BuildConfig) -> tuple[Path, Path]:
    assert build.dockerfile is not None
    return project.root / build.context, project.root / build.dockerfile


def manifest(project: Project, build: BuildConfig) -> Manifest:
    """The digests of the Dockerfile and of the context's files, links by their target."""
    context, dockerfile = _places(project, build)
    if not dockerfile.is_file() or dockerfile.is_symlink():
        raise ConfigError(
            f"{project.config_path}: build.dockerfile {dockerfile} is not a regular file",
            hint="point build.dockerfile at the Dockerfile in the project",
        )
    if context.is_symlink() or not context.is_dir():
        raise ConfigError(
            f"{project.config_path}: build.context {context} is not a directory",
            hint="point build.context at a directory in the project",
        )
    return {DOCKERFILE: _digest(dockerfile), **_folder(project, context, _CONTEXT)}


def _folder(project: Project, context: Path, prefix: str) -> Manifest:
    """The digests of the files in ``context``, keyed ``prefix`` + their path in it."""
    if context.is_symlink() or not context.is_dir():
        raise ConfigError(
            f"{project.config_path}: {context} is not a directory",
            hint="point the setting at a directory in the project",
        )
    found: Manifest = {}
    skipped = {os.path.realpath(project.root / ".git"), os.path.realpath(project.vault_dir)}
    for directory, dirnames, filenames in os.walk(context):
        here = Path(directory)
        kept = []
        for name in sorted(dirnames):
            path = here / name
            if path.is_symlink():
                filenames.append(name)
            elif os.path.realpath(path) not in skipped:
                kept.append(name)
        dirnames[:] = kept
        for name in sorted(filenames):
            path = here / name
            key = prefix + str(path.relative_to(context))
            if path.is_symlink():
                found[key] = "symlink:" + os.readlink(path)
            elif path.is_file():
                found[key] = _digest(path)
    return found


def changes(approved: Manifest | None, current: Manifest) -> list[str]:
    """One line per file added, removed or changed since the approval."""
    before = approved or {}
    rows = []
    for key in sorted(set(before) | set(current)):
        if key not in before:
            rows.append(f"build file {key}: added")
        elif key not in current:
            rows.append(f"build file {key}: removed")
        elif before[key] != current[key]:
            rows.append(f"build file {key}: changed")
    return rows


@contextlib.contextmanager
def approved_copy(project: Project, build: BuildConfig, approved: Manifest) -> Iterator[Path]:
    """A temporary build context holding exactly the approved files; yields its Dockerfile.

    Each file is checked against its approved digest as it is copied, so a file changed
    between the check and the copy (or a directory swapped for a link) is refused.
    """
    context, dockerfile = _places(project, build)
    with tempfile.TemporaryDirectory(prefix="tazpod-build-") as tmp:
        copy = Path(tmp) / "context"
        copy.mkdir()
        for key, expected in approved.items():
            if key != DOCKERFILE and not key.startswith(_CONTEXT):
                continue  # (a Feature's: tazpod.images.features copies those)
            source = dockerfile if key == DOCKERFILE else context / key[len(_CONTEXT) :]
            target = Path(tmp) / "Dockerfile" if key == DOCKERFILE else copy / key[len(_CONTEXT) :]
            target.parent.mkdir(parents=True, exist_ok=True)
            if expected.startswith("symlink:"):
                target.symlink_to(expected.removeprefix("symlink:"))
                continue
            _copy_checked(source, target, expected, project)
        yield Path(tmp) / "Dockerfile"


def copy_feature(project: Project, folder: str, approved: Manifest, target: Path) -> None:
    """The approved files of the Feature in ``folder``, into ``target`` (each checked)."""
    prefix = f"{FEATURE}{folder}/"
    for key, expected in approved.items():
        if not key.startswith(prefix):
            continue
        inner = key[len(prefix) :]
        (target / inner).parent.mkdir(parents=True, exist_ok=True)
        if expected.startswith("symlink:"):
            (target / inner).symlink_to(expected.removeprefix("symlink:"))
            continue
        _copy_checked(project.root / folder / inner, target / inner, expected, project)


def _copy_checked(source: Path, target: Path, expected: str, project: Project) -> None:
    try:
        copied = _digest(source, copy_to=target)
    except OSError as err:
        raise _changed(project, source) from err
    shutil.copymode(source, target, follow_symlinks=False)
    if copied != expected:
        raise _changed(project, source)


def _changed(project: Project, path: Path) -> ConfigError:
    return ConfigError(
        f"{path} changed while the image was being built from it: not built",
        hint=f"review it, run `tazpod trust` in {project.root}, and build again",
    )


def source_of(project: Project, config: ProjectConfig, key: str) -> Path | None:
    """The workspace file a manifest key stands for (None: not one of this config's)."""
    if (key == DOCKERFILE or key.startswith(_CONTEXT)) and config.build and custom(config.build):
        context, dockerfile = _places(project, config.build)
        return dockerfile if key == DOCKERFILE else context / key[len(_CONTEXT) :]
    if key.startswith(FEATURE):
        rest = key[len(FEATURE) :]
        for feature in config.devcontainer_features:
            if rest.startswith(feature.path + "/"):
                return project.root / feature.path / rest[len(feature.path) + 1 :]
    return None


def review_copies(
    project: Project, config: ProjectConfig, current: Manifest, keys: list[str], target: Path
) -> dict[str, Path]:
    """Copies of the files ``keys`` name, read now and checked against ``current`` (the
    digests about to be approved), in ``target``, a directory of the host user's own: what
    the user reviews is then exactly what is approved, whatever the workspace's copy (which
    every session in the container can rewrite) says a moment later."""
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(mode=0o700, parents=True)
    copies: dict[str, Path] = {}
    for key in keys:
        source = source_of(project, config, key)
        expected = current.get(key, "")
        if source is None or not expected.startswith("sha256:"):
            continue  # a link (shown by its target) or nothing to show
        copy = target / key
        copy.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            copied = _digest(source, copy_to=copy)
        except OSError as err:
            raise _changed_while_read(project, source) from err
        if copied != expected:
            raise _changed_while_read(project, source)
        os.chmod(copy, 0o600)
        copies[key] = copy
    return copies


def _changed_while_read(project: Project, path: Path) -> ConfigError:
    return ConfigError(
        f"{path} changed while `tazpod trust` read it: nothing approved",
        hint=f"something in the container is changing it; run `tazpod trust` in"
        f" {project.root} again once it is still",
    )
