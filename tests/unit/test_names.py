from __future__ import annotations

import re

import pytest

from tazpod.project.names import (
    check_container_name,
    is_portable,
    new_container_name,
    safe_dir_part,
)


@pytest.mark.parametrize(
    ("directory", "expected"),
    [
        ("myproj", "myproj"),
        ("My Project", "my-project"),
        ("Ünïcödé çafé", "unicode-cafe"),
        (".dotfiles", "dotfiles"),
        ("...", "project"),
        ("日本語", "project"),
        ("a__b..c", "a-b-c"),
        ("UPPER_case-Dir", "upper-case-dir"),
        ("x" * 200, "x" * 48),
    ],
)
def test_safe_dir_part(directory: str, expected: str) -> None:
    assert safe_dir_part(directory) == expected


def test_new_name_has_seven_digits_and_is_portable() -> None:
    names = {new_container_name("Mon Projet") for _ in range(20)}
    assert len(names) > 1  # random suffix
    for name in names:
        assert re.fullmatch(r"tazpod-mon-projet-\d{7}", name)
        assert is_portable(name)
        assert check_container_name(name) == name


def test_long_names_stay_within_kubernetes_limit() -> None:
    name = new_container_name("y" * 300)
    assert len(name) <= 63 and is_portable(name)


@pytest.mark.parametrize("bad", ["", "-x", "a b", "a/b", "x" * 64, "é"])
def test_check_container_name_rejects(bad: str) -> None:
    with pytest.raises(ValueError, match="not a valid container name"):
        check_container_name(bad)


def test_tazpod_legacy_name_is_accepted() -> None:
    assert check_container_name("tazpod-lab") == "tazpod-lab"
