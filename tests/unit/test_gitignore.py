"""The files a workspace copy carries: .gitignore rules as git applies them."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tazpod.project.gitignore import project_files


def _tree(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


FILES = {
    ".gitignore": "# comment\nbuild/\n*.log\n/top.txt\n!keep.log\ndocs/**/*.tmp\nsecret?.env\n",
    "build/out.o": "",
    "src/build/gen.c": "",  # `build/` matches a directory at any depth
    "src/app.py": "",
    "src/debug.log": "",
    "src/keep.log": "",
    "top.txt": "",
    "src/top.txt": "",  # `/top.txt` is anchored
    "docs/a/b/c.tmp": "",
    "docs/a/b/c.md": "",
    "secret1.env": "",
    "secret10.env": "",
    "sub/.gitignore": "*.bin\n!important.bin\n",
    "sub/x.bin": "",
    "sub/important.bin": "",
    "other/x.bin": "",
    ".tazpod/vault/vault.age": "",
    ".tazpod/config.yaml": "",
}


def test_rules(tmp_path: Path) -> None:
    _tree(tmp_path, FILES)
    files = set(project_files(tmp_path, [".tazpod/vault"]))
    assert files == {
        ".gitignore",
        "src",
        "src/app.py",
        "src/keep.log",
        "src/top.txt",
        "docs",
        "docs/a",
        "docs/a/b",
        "docs/a/b/c.md",
        "secret10.env",
        "sub",
        "sub/.gitignore",
        "sub/important.bin",
        "other",
        "other/x.bin",
        ".tazpod",
        ".tazpod/config.yaml",
    }


def test_directories_come_before_their_contents(tmp_path: Path) -> None:
    _tree(tmp_path, {"a/b/c.txt": "", "a/d.txt": ""})
    order = list(project_files(tmp_path))
    assert sorted(order) == ["a", "a/b", "a/b/c.txt", "a/d.txt"]
    assert order.index("a") < order.index("a/b") < order.index("a/b/c.txt")


@pytest.mark.skipif(
    subprocess.run(["git", "--version"], capture_output=True).returncode != 0,
    reason="git is not installed",
)
def test_agrees_with_git(tmp_path: Path) -> None:
    _tree(tmp_path, {k: v for k, v in FILES.items() if not k.startswith(".tazpod/vault")})
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    listed = subprocess.run(
        ["git", "-C", str(tmp_path), "ls-files", "--others", "--exclude-standard"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    ours = {p for p in project_files(tmp_path, [".git"]) if (tmp_path / p).is_file()}
    assert ours == set(listed)
