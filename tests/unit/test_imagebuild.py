"""Which images `tazpod build` builds, from what, with which arguments (engine faked)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tazpod import __version__
from tazpod.images import artifacts
from tazpod.images import stack as imagebuild
from tazpod.images.stack import build_image
from tazpod.project.config import read_project_config
from tazpod.project.locate import Project, init_project
from tests.support.trusting import approve


class RecordingEngine:
    def __init__(self, present: set[str]) -> None:
        self.present = present
        self.builds: list[tuple[str, dict[str, str], list[str]]] = []

    def image_exists(self, image: str) -> bool:
        return image in self.present

    def build(
        self, context: Path, dockerfile: Path, tag: str, args: dict[str, str], progress: object
    ) -> None:
        listing = sorted(str(p.relative_to(context)) for p in context.rglob("*") if p.is_file())
        self.builds.append((tag, dict(args), listing))
        self.present.add(tag)


@pytest.fixture
def staged(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Wheels and tools are faked here (tests/unit/test_artifacts.py tests the real ones)."""
    calls: list[str] = []

    def wheels(target: Path, _progress: object) -> None:
        target.mkdir()
        (target / "tazpod.whl").write_bytes(b"")

    def tools(
        listing: Path, project_dir: Path, tools: Path, _p: object, args: dict[str, str]
    ) -> None:
        calls.append(f"{listing.parent.name} {args.get('WITH_LAZYVIM', '')}".strip())
        (tools / "bin").mkdir(parents=True)
        (tools / "bin" / listing.parent.name).write_bytes(b"")

    monkeypatch.setattr(imagebuild, "write_wheels", wheels)
    monkeypatch.setattr(artifacts, "stage", tools)
    return calls


def _project(tmp_path: Path, vertical: str, extra: str = "") -> tuple[Project, object]:
    init_project(tmp_path, vertical, force=False)
    project = Project(tmp_path)
    project.config_path.write_text(project.config_path.read_text() + extra)
    return project, read_project_config(project.config_path).config


def test_a_vertical_builds_the_missing_ones_below_it(tmp_path: Path, staged: list[str]) -> None:
    args = "build:\n  args:\n    BASE_IMAGE: tazpod-bootstrap:bookworm\n"
    project, config = _project(tmp_path, "k8s", args)
    engine = RecordingEngine({f"tazpod-base:{__version__}"})
    build_image(engine, project, config, lambda _m: None)  # type: ignore[arg-type]
    tags = [tag for tag, _args, _files in engine.builds]
    assert tags == [f"tazpod-infisical:{__version__}", f"tazpod-k8s:{__version__}"]
    infisical_args, k8s_args = engine.builds[0][1], engine.builds[1][1]
    assert infisical_args == {
        "TAZPOD_VERSION": __version__,
        "TAZPOD_BASE": f"tazpod-base:{__version__}",
    }
    assert k8s_args["TAZPOD_BASE"] == f"tazpod-infisical:{__version__}"
    assert "BASE_IMAGE" not in k8s_args  # the project's args are the base's
    assert engine.builds[1][2] == ["Dockerfile", "tools/bin/k8s"]
    assert staged == ["infisical", "k8s"]


def test_build_all_rebuilds_the_stack_with_the_projects_args(
    tmp_path: Path, staged: list[str]
) -> None:
    project, config = _project(tmp_path, "infisical", "build:\n  args:\n    WITH_LAZYVIM: '0'\n")
    engine = RecordingEngine({f"tazpod-base:{__version__}", f"tazpod-infisical:{__version__}"})
    build_image(engine, project, config, lambda _m: None, rebuild_all=True)  # type: ignore[arg-type]
    (base_tag, base_args, base_files), (tag, _args, _files) = engine.builds
    assert base_tag == f"tazpod-base:{__version__}" and tag == f"tazpod-infisical:{__version__}"
    assert base_args == {"WITH_LAZYVIM": "0", "TAZPOD_VERSION": __version__}
    assert base_files == ["Dockerfile", "tazpod-src/tazpod.whl", "tools/bin/base"]
    assert staged == ["base 0", "infisical"]  # the base's tools see the project's args


def test_a_custom_dockerfile_is_built_alone(tmp_path: Path, staged: list[str]) -> None:
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    extra = "build:\n  dockerfile: Dockerfile\n  args:\n    A: b\n"
    project, config = _project(tmp_path, "k8s", extra)
    approve(tmp_path)
    engine = RecordingEngine(set())
    build_image(engine, project, config, lambda _m: None)  # type: ignore[arg-type]
    assert [(tag, args) for tag, args, _f in engine.builds] == [
        (f"tazpod-k8s:{__version__}", {"A": "b", "TAZPOD_VERSION": __version__})
    ]
    assert staged == []


def test_bootstrap_components_follow_the_distribution() -> None:
    import argparse

    from tazpod.cli.commands.image import components

    def args(mirror: str, keyring: str | None = None, given: str | None = None) -> str:
        namespace = argparse.Namespace(mirror=mirror, keyring=keyring, components=given)
        return components(namespace)

    assert args("http://deb.debian.org/debian") == "main"
    assert args("http://archive.ubuntu.com/ubuntu") == "main,universe"
    assert args("http://mirror.lan/u", "/usr/share/keyrings/ubuntu-archive-keyring.gpg") == (
        "main,universe"
    )
    assert args("http://deb.debian.org/debian", given="main,contrib") == "main,contrib"


def test_issue15_attack_review_a_custom_build_uses_only_the_approved_files(
    tmp_path: Path, staged: list[str]
) -> None:
    """A session in the container rewrote the approved Dockerfile (its root code then read
    the passphrase off stdin), or planted a file its build copies in."""
    from tazpod.project.trust import UntrustedConfigError

    (tmp_path / "image").mkdir()
    (tmp_path / "image" / "Dockerfile").write_text("FROM scratch\nCOPY . /src\n")
    (tmp_path / "image" / "setup.sh").write_text("echo setup\n")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    extra = "build:\n  dockerfile: image/Dockerfile\n  context: .\n"
    project, config = _project(tmp_path, "base", extra)
    (project.vault_dir / "vault.age").write_bytes(b"sealed")
    approve(tmp_path)
    engine = RecordingEngine(set())
    build_image(engine, project, config, lambda _m: None)  # type: ignore[arg-type]
    files = engine.builds[0][2]
    assert "image/setup.sh" in files and "secrets.yml" in files
    assert not any(f.startswith((".git/", ".tazpod/vault/")) for f in files)
    (tmp_path / "image" / "Dockerfile").write_text("FROM evil\nRUN steal\n")
    (tmp_path / "image" / "planted.sh").write_text("steal\n")
    engine.present.clear()
    with pytest.raises(UntrustedConfigError) as caught:
        build_image(engine, project, config, lambda _m: None)  # type: ignore[arg-type]
    assert "build file Dockerfile: changed" in caught.value.message
    assert "build file context/image/planted.sh: added" in caught.value.message
    assert "tazpod trust" in (caught.value.hint or "") and len(engine.builds) == 1


def test_issue15_a_file_changed_after_the_check_is_not_copied_into_the_build(
    tmp_path: Path,
) -> None:
    from tazpod.errors import ConfigError
    from tazpod.project import build_files

    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "ctx").mkdir()
    (tmp_path / "ctx" / "a").write_text("approved\n")
    project, config = _project(
        tmp_path, "base", "build:\n  dockerfile: Dockerfile\n  context: ctx\n"
    )
    build = config.build  # type: ignore[attr-defined]
    approved = build_files.manifest(project, build)
    assert set(approved) == {"Dockerfile", "context/a"}
    (tmp_path / "ctx" / "a").write_text("swapped\n")  # between the check and the copy
    copy = build_files.approved_copy(project, build, approved)
    with pytest.raises(ConfigError, match="changed while the image was being built"), copy:
        pass
