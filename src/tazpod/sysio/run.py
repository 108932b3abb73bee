"""Running programs: the one place tazpod starts a child process.

Commands are argument lists, never shell strings. A failure is a typed error that
keeps argv, the exit code and the child's stderr (its last line for messages: tools
name problems there, and tazpod never shows more than a few lines of it). Callers map
it to the error of their layer (EngineError, SecretsError, VaultError) with their own
words. A child's environment comes from ``tazpod.sysio.environ.child_env``; without
one, a child gets only its allowlist.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, NoReturn

from tazpod.errors import TazpodError
from tazpod.sysio.environ import child_env

Ids = tuple[int, int, tuple[int, ...]]  # uid, gid, supplementary groups


def last_line(text: str) -> str:
    """The last non-blank line of a tool's output, or "" when it said nothing."""
    lines = text.strip().splitlines()
    return lines[-1].strip() if lines else ""


def _program(argv: Sequence[str]) -> str:
    return Path(argv[0]).name if argv else "(nothing)"


class RunError(TazpodError):
    """A child process that did not do its job; ``argv`` names it (argv never holds secrets)."""

    def __init__(self, argv: Sequence[str], message: str) -> None:
        super().__init__(message)
        self.argv = tuple(argv)


class CommandFailed(RunError):
    """The program ran and exited non-zero (or was killed: 128 + the signal)."""

    def __init__(self, argv: Sequence[str], returncode: int, stderr: str) -> None:
        self.returncode = returncode
        self.stderr = stderr
        self.last_line = last_line(stderr)
        super().__init__(
            argv, f"{_program(argv)} exited {returncode}: {self.last_line or 'no message'}"
        )

    def tail(self, count: int) -> str:
        """The last ``count`` lines of stderr, for tools whose last line alone says too little."""
        return "\n".join(self.stderr.strip().splitlines()[-count:])


class CannotRun(RunError):
    """The program could not be started, or did not finish in time (it was killed)."""

    def __init__(self, argv: Sequence[str], reason: str) -> None:
        self.reason = reason
        super().__init__(argv, f"cannot run {_program(argv)}: {reason}")


@dataclass(frozen=True)
class Completed:
    argv: tuple[str, ...]
    returncode: int
    stdout: bytes
    stderr: bytes

    @property
    def out(self) -> str:
        return self.stdout.decode(errors="replace")

    @property
    def err(self) -> str:
        return self.stderr.decode(errors="replace")


def _exit_code(returncode: int) -> int:
    return 128 - returncode if returncode < 0 else returncode


def run(
    argv: Sequence[str],
    *,
    input: bytes | None = None,
    env: Mapping[str, str] | None = None,
    pass_fds: Sequence[int] = (),
    cwd: Path | None = None,
    capture: bool = True,
    stdout: IO[bytes] | None = None,
    check: bool = True,
    timeout: float | None = None,
) -> Completed:
    """Run ``argv`` to its end.

    ``capture``: stdout and stderr are collected (else the child shares ours, e.g. a
    terminal session); ``stdout``: a file the child writes its output to instead.
    ``check``: a non-zero exit raises ``CommandFailed`` (else it is in the result).
    """
    args = list(argv)
    try:
        done = subprocess.run(
            args,
            input=input,
            env=child_env() if env is None else dict(env),
            pass_fds=tuple(pass_fds),
            cwd=cwd,
            stdout=stdout if stdout is not None else subprocess.PIPE if capture else None,
            stderr=subprocess.PIPE if capture or stdout is not None else None,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        raise CannotRun(args, str(err)) from err
    result = Completed(
        tuple(args), _exit_code(done.returncode), done.stdout or b"", done.stderr or b""
    )
    if check and result.returncode != 0:
        raise CommandFailed(args, result.returncode, result.err)
    return result


def run_fed(argv: Sequence[str], chunks: Iterable[bytes], env: Mapping[str, str]) -> int:
    """Run ``argv`` with its stdin written from ``chunks`` as they come, then closed; its
    output is ours; its exit code. The command's end is the end: input still to come (or
    that never comes) does not hold it, and a command that stops reading ends the
    feeding, as in a shell pipe."""
    import threading

    args = list(argv)
    try:
        child = subprocess.Popen(args, stdin=subprocess.PIPE, env=dict(env))
    except OSError as err:
        raise CannotRun(args, err.strerror or str(err)) from err
    assert child.stdin is not None
    feeder = threading.Thread(target=_feed, args=(child.stdin, chunks), daemon=True)
    feeder.start()
    return _exit_code(child.wait())


def _feed(stdin: IO[bytes], chunks: Iterable[bytes]) -> None:
    try:
        for chunk in chunks:
            stdin.write(chunk)
            stdin.flush()
    except (BrokenPipeError, ValueError):  # it stopped reading, or it ended
        pass
    finally:
        with contextlib.suppress(BrokenPipeError, ValueError):
            stdin.close()


def output_lines(
    argv: Sequence[str], *, env: Mapping[str, str] | None = None, keep: int = 6
) -> Iterator[str]:
    """Run ``argv`` with stdout and stderr merged, yielding each line as it is printed.

    A non-zero exit raises ``CommandFailed`` after the last line, with the last
    ``keep`` lines as its stderr (a build log's error is at its end).
    """
    args = list(argv)
    tail: list[str] = []
    try:
        process = subprocess.Popen(
            args,
            env=child_env() if env is None else dict(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
    except OSError as err:
        raise CannotRun(args, str(err)) from err
    with process:
        assert process.stdout is not None
        for line in process.stdout:
            tail = [*tail[-(keep - 1) :], line.rstrip()] if keep > 1 else [line.rstrip()]
            yield line.rstrip()
    if process.returncode != 0:
        raise CommandFailed(args, _exit_code(process.returncode), "\n".join(tail))


class Child:
    """A program whose stdout this process reads as it is made (e.g. `tar -c` for a stream).

    ``stdin`` is written and closed at the start; ``finish`` waits and raises
    ``CommandFailed`` (with stderr) on a non-zero exit. ``ids`` runs it as that user.
    """

    def __init__(
        self,
        argv: Sequence[str],
        *,
        stdin: bytes = b"",
        env: Mapping[str, str] | None = None,
        pass_fds: Sequence[int] = (),
        ids: Ids | None = None,
    ) -> None:
        self.argv = tuple(argv)
        try:
            self._process = subprocess.Popen(
                list(argv),
                env=child_env() if env is None else dict(env),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                pass_fds=tuple(pass_fds),
                user=ids[0] if ids else None,
                group=ids[1] if ids else None,
                extra_groups=list(ids[2]) if ids else None,
            )
        except OSError as err:
            raise CannotRun(argv, str(err)) from err
        assert self._process.stdin is not None and self._process.stdout is not None
        # A child that fails before reading its input closes the pipe under us: its exit
        # status, which finish() reports, says why (as subprocess's communicate() does).
        with contextlib.suppress(BrokenPipeError):
            self._process.stdin.write(stdin)
            self._process.stdin.flush()
        with contextlib.suppress(BrokenPipeError):
            self._process.stdin.close()
        self.stdout: IO[bytes] = self._process.stdout

    def poll(self) -> int | None:
        return self._process.poll()

    def kill(self) -> None:
        self._process.kill()

    def wait(self) -> int:
        return self._process.wait()

    def finish(self) -> None:
        self.stdout.close()
        stderr = self._process.stderr
        error = stderr.read().decode(errors="replace") if stderr is not None else ""
        if stderr is not None:
            stderr.close()
        code = self._process.wait()
        if code != 0:
            raise CommandFailed(self.argv, _exit_code(code), error)


class Lifeline:
    """A program that lives as long as this process holds its standard input open.

    However this process ends (returning, a signal, kill -9), the kernel closes the pipe
    and the program reads EOF; ``release`` says a word first, so that it can tell a
    planned end from a lost caller. It runs in a session of its own (a Ctrl-C at the
    terminal is not its), printing to our stderr.
    """

    def __init__(self, argv: Sequence[str], env: Mapping[str, str]) -> None:
        self.argv = tuple(argv)
        try:
            self._process = subprocess.Popen(
                list(argv),
                env=dict(env),
                stdin=subprocess.PIPE,
                stdout=2,
                start_new_session=True,
            )
        except OSError as err:
            raise CannotRun(argv, str(err)) from err

    def release(self, word: bytes) -> None:
        stdin = self._process.stdin
        if stdin is not None and not stdin.closed:
            with contextlib.suppress(OSError):
                stdin.write(word)
                stdin.flush()
        self.cut()

    def cut(self) -> None:
        stdin = self._process.stdin
        if stdin is not None and not stdin.closed:
            with contextlib.suppress(OSError):
                stdin.close()

    def wait(self, timeout: float) -> int | None:
        try:
            return self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None


def replace_process(argv: Sequence[str], env: Mapping[str, str] | None = None) -> NoReturn:
    """Become ``argv`` (exec): its exit code and terminal are the caller's from here on.

    A bare name is looked up on the PATH of ``env`` (the caller's own command).
    """
    os.execvpe(argv[0], list(argv), child_env() if env is None else dict(env))  # noqa: S606
