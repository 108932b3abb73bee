"""Issue 13: the pty helper sees two prompts that arrive in one read, each exactly once."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.system.ptyutil import PtySession

# Both lines in one write, as `tazpod: wrong passphrase (1 attempt left)` and the next prompt
# can arrive in one read; the program then waits for an answer.
SCRIPT = 'printf "wrong (1 attempt left)\\r\\npassphrase: "; read answer; echo "got $answer"'


def test_the_rest_of_a_read_stays_for_the_next_expect(tmp_path: Path) -> None:
    session = PtySession(["sh", "-c", SCRIPT], dict(os.environ), tmp_path)
    assert session.expect(r"\d attempt left") == "1 attempt left"
    assert session.expect("passphrase: ", timeout=5) == "passphrase: "
    session.send("x\n")
    session.expect("got x")
    assert session.wait() == 0
    assert "wrong (1 attempt left)" in session.output  # the whole transcript is kept


def test_consumed_output_is_not_matched_again(tmp_path: Path) -> None:
    session = PtySession(["sh", "-c", SCRIPT], dict(os.environ), tmp_path)
    session.expect("passphrase: ")
    with pytest.raises(AssertionError, match="not seen"):
        session.expect("attempt left", timeout=0.5)  # before the prompt: already consumed
    session.send("x\n")
    assert session.wait() == 0
