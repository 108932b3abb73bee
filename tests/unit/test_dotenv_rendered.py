"""Issue 20: the vault's own dotenv files are read without `re`, exactly as the grammar does."""

from __future__ import annotations

import random

import pytest

from tazpod.secrets import dotenv
from tazpod.secrets.dotenv_grammar import Parsed, Reader
from tazpod.secrets.dotenv_parsed import read_rendered
from tazpod.secrets.value import Secret

TRICKY = [
    "",
    "'",
    "''",
    "\\'",
    "it's",
    "a\nb='c'\nd",
    "x\r\ny",
    "\\",
    "$HOME `id` $(id)",
    "# not a comment",
    "ключ ✓",
    "trailing space ",
    "\\''\\''",
]
NAMES = ["A", "my.key", "db@host", "1PASSWORD", "ключ", "with space", "export_x", "a'b", "x=y"]


def _grammar(text: str) -> dict[str, str]:
    parsed = Parsed()
    Reader(text, "f", "tazpod", parsed).read(0, len(text))
    assert not parsed.problems and not parsed.notes
    return {name: secret.reveal() for name, secret in parsed.values.items()}


def _random_text(rng: random.Random) -> str:
    alphabet = "ab'\\\n\r=#\" \t$é"
    return "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 12)))


def test_rendered_files_read_back_exactly_and_as_the_grammar_reads_them() -> None:
    rng = random.Random(20)
    cases = [dict(zip(NAMES, TRICKY, strict=False))]
    cases += [{_random_text(rng) or "n": _random_text(rng) for _ in range(5)} for _ in range(300)]
    for values in cases:
        values = {k: v for k, v in values.items() if k}
        text = dotenv.render({k: Secret(v) for k, v in values.items()})
        fast = read_rendered(text, dotenv.HEADER)
        assert fast is not None, text
        assert fast == values == _grammar(text)
        assert {k: s.reveal() for k, s in dotenv.read_text(text, "f").values.items()} == values


@pytest.mark.parametrize(
    "body",
    [
        "A=unquoted\n",  # a hand edit
        "A='1' # comment\n",
        "A='1'\nA='2'\n",  # a repeated name: the grammar notes which one wins
        "A='x\0y'\n",
        "A='\udc80'\n",  # not UTF-8
        "export A='1'\n",
        "A='open\n",
        "\nA='1'\n",
    ],
)
def test_anything_else_goes_to_the_full_grammar(body: str) -> None:
    assert read_rendered(f"{dotenv.HEADER}\n{body}", dotenv.HEADER) is None
    assert read_rendered("A='1'\n", dotenv.HEADER) is None  # no header
