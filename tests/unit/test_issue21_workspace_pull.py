"""Issue 21, items 2 and 3: what `tazpod workspace pull` writes from the pod's archive.

The archives are made here as the pod's user could make them (a hook, core.fsmonitor, a
.git file, links out, names with '..', tazpod's settings) and written through the real
extractor into a project with an attacker's link already in it; nothing may appear
outside the project, and nothing that runs code may land in .git.
"""

from __future__ import annotations

import io
import os
import stat
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tazpod.engines.kubernetes import stream
from tazpod.engines.kubernetes.receive import extract

F, D, S, H = tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE


def _tar(*members: tuple[str, bytes, str, int] | tuple[str, bytes, str, int, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, kind, link, mode, *given in members:
            info = tarfile.TarInfo(name)
            info.type, info.linkname, info.mode = kind, link, mode
            data = given[0] if given else f"pod wrote {name}".encode() if kind == F else b""
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / ".git" / "hooks").mkdir(parents=True)
    (root / ".git" / "config").write_text("[core]\n\tbare = false\n")
    (root / ".tazpod").mkdir()
    (root / ".tazpod" / "config.yaml").write_text("privileged: false\n")
    (tmp_path / "outside").mkdir()
    os.symlink(tmp_path / "outside", root / "linked")  # a link the user made here
    os.symlink(tmp_path / "outside" / "target", root / "over-me")
    return root


def _outside(tmp_path: Path) -> list[str]:
    return sorted(str(p.relative_to(tmp_path)) for p in (tmp_path / "outside").rglob("*"))


def test_issue21_pull_never_writes_code_git_runs_or_tazpods_settings(project: Path) -> None:
    archive = _tar(
        (".git", D, "", 0o755),
        (".git/config", F, "", 0o644),  # [core] fsmonitor = "id > ~/PROOF"
        (".git/hooks/post-checkout", F, "", 0o755),
        (".git/info/attributes", F, "", 0o644),
        (".git/objects/info/alternates", F, "", 0o644),
        (".git/HEAD", F, "", 0o644),
        (".git/refs/heads/main", F, "", 0o644),
        (".git/objects/ab/cdef", F, "", 0o444),
        ("vendor/lib/.git", F, "", 0o644),  # gitdir: elsewhere
        (".tazpod/config.yaml", F, "", 0o644),
        ("secrets.yml", F, "", 0o644),
        ("src/main.py", F, "", 0o644),
    )
    received = extract(io.BytesIO(archive), project, with_git=True)
    assert (project / ".git" / "config").read_text() == "[core]\n\tbare = false\n"
    assert not (project / ".git" / "hooks" / "post-checkout").exists()
    assert not (project / ".git" / "info").exists()
    assert not (project / ".git" / "objects" / "info").exists()
    assert (project / ".git" / "HEAD").read_text() == "pod wrote .git/HEAD"
    assert (project / ".git" / "refs" / "heads" / "main").exists()
    assert (project / ".git" / "objects" / "ab" / "cdef").exists()
    assert not (project / "vendor" / "lib" / ".git").exists()
    assert (project / ".tazpod" / "config.yaml").read_text() == "privileged: false\n"
    assert (project / "src" / "main.py").read_text() == "pod wrote src/main.py"
    assert received.files == 5  # HEAD, main, cdef, secrets.yml, main.py
    left = {name for name, _why in received.left_out}
    assert left == {
        ".git/config",
        ".git/hooks/post-checkout",
        ".git/info/attributes",
        ".git/objects/info/alternates",
        "vendor/lib/.git",
        ".tazpod/config.yaml",
    }
    # Without --git, none of .git comes back (its index and refs could hide changes).
    fresh = extract(io.BytesIO(_tar((".git/HEAD", F, "", 0o644))), project)
    assert fresh.files == 0 and "--git" in fresh.left_out[0][1]


def test_issue21_pull_never_writes_outside_the_project(project: Path, tmp_path: Path) -> None:
    archive = _tar(
        ("linked/planted", F, "", 0o644),  # through the user's own link
        ("escape", S, "..", 0o777),
        ("escape/planted", F, "", 0o644),
        ("abs", S, str(tmp_path / "outside"), 0o777),
        ("chain", S, "d/../..", 0o777),
        ("src", D, "", 0o755),
        ("src/x", F, "", 0o644),
        ("down", S, "src", 0o777),  # made (at the end): src is a real directory by then
        ("down/planted", F, "", 0o644),  # before that: a directory of its own, so no link
        ("ok", S, "src/x", 0o777),
        ("dangling", S, "nowhere", 0o777),
        ("dot", S, ".", 0o777),
        ("via-user-link", S, "linked", 0o777),  # the user's link leads out
        ("../planted", F, "", 0o644),
        ("/tmp/planted-by-pod", F, "", 0o644),
        ("hard", H, "src/x", 0o644),
        ("fifo", tarfile.FIFOTYPE, "", 0o666),
        ("over-me", F, "", 0o644),  # a file where the user has a link: the link is replaced
        ("tool", F, "", 0o4777),
    )
    received = extract(io.BytesIO(archive), project)
    assert _outside(tmp_path) == []
    assert not (tmp_path / "planted").exists() and not Path("/tmp/planted-by-pod").exists()
    assert os.readlink(project / "ok") == "src/x"
    assert (project / "down").is_dir() and not (project / "down").is_symlink()
    assert not (project / "src" / "planted").exists()
    for name in ("dangling", "dot", "via-user-link"):
        assert not os.path.lexists(project / name), name
    assert not (project / "escape").is_symlink() and not (project / "chain").exists()
    assert not (project / "abs").exists() and not (project / "hard").exists()
    assert not (project / "over-me").is_symlink()
    assert (project / "over-me").read_text() == "pod wrote over-me"
    assert stat.S_IMODE((project / "tool").stat().st_mode) == 0o755
    assert received.links == 1
    assert (project / "escape" / "planted").is_file()  # a directory of its own, inside
    assert len(received.left_out) == 12, received.left_out


class _Frame:
    def __init__(self, data: bytes) -> None:
        self.data = data


class _Socket:
    """Frames as the API server sends them (channel byte first), then a close."""

    def __init__(self, frames: list[bytes]) -> None:
        from websocket import ABNF

        self.frames = [(ABNF.OPCODE_BINARY, _Frame(f)) for f in frames]
        self.frames.append((ABNF.OPCODE_CLOSE, _Frame(b"")))

    def recv_data_frame(self, _control: bool) -> tuple[int, _Frame]:
        return self.frames.pop(0)


class _Ws:
    def __init__(self, frames: list[bytes]) -> None:
        self.sock = _Socket(frames)


def test_issue21_pull_streams_frame_by_frame_with_the_exit_code() -> None:
    archive = _tar(("a", F, "", 0o644), ("b", F, "", 0o644))
    chunks = [archive[i : i + 700] for i in range(0, len(archive), 700)]
    frames = [b"\x01" + c for c in chunks] + [b"\x02warning\n"]
    status = b'{"status":"Failure","details":{"causes":[{"reason":"ExitCode","message":"3"}]}}'
    output = stream.OutputStream(_Ws([*frames, b"\x03" + status]))
    assert output.read(100) == archive[:100]
    assert output.read() == archive[100:]
    assert output.finish() == 3 and bytes(output.stderr) == b"warning\n"
    done = stream.OutputStream(_Ws([b"\x01" + archive, b'\x03{"status":"Success"}']))
    assert done.read() == archive and done.finish() == 0


def _files_outside_and_git(project: Path) -> list[str]:
    return sorted(str(p.relative_to(project.parent)) for p in project.parent.rglob("*"))


def test_attack_review_a_directory_shaped_like_a_repository_gets_no_config(
    project: Path,
) -> None:
    """A pod-made src/{HEAD,objects,refs,config} made `git log` in src run the pod's pager."""
    head = b"ref: refs/heads/main\n"
    archive = _tar(
        ("src/HEAD", F, "", 0o644, head),
        ("src/refs/heads/main", F, "", 0o644, b"ab" * 20 + b"\n"),
        ("src/objects/ab/cd", F, "", 0o644),
        ("src/config", F, "", 0o644, b"[core]\n\tpager = touch PWNED\n"),
        ("docs/config", F, "", 0o644),  # an ordinary file named config: kept
        ("docs/HEAD", F, "", 0o644, b"the head of the docs\n"),  # any HEAD: refused
        ("sha/HEAD", F, "", 0o644, b"0123456789abcdef0123456789abcdef01234567\n"),
        ("bare/HEAD", S, "refs/heads/main", 0o777),
    )
    received = extract(io.BytesIO(archive), project)
    for refused in ("src/HEAD", "sha/HEAD", "bare/HEAD", "docs/HEAD"):  # any HEAD at all
        assert not os.path.lexists(project / refused), refused
    assert (project / "src" / "config").exists()  # harmless without a HEAD beside it
    assert (project / "docs" / "config").read_text() == "pod wrote docs/config"
    assert not [p for p in project.rglob(".tazpod-pull-*")]
    left = {name for name, _why in received.left_out}
    assert left == {"src/HEAD", "sha/HEAD", "bare/HEAD", "docs/HEAD"}
    # Other spellings of HEAD, and a long one git reads the start of (the code review).
    long_head = b"ref: refs/heads/main\n" + b" " * 300
    more = _tar(("x/head", F, "", 0o644), ("y/HEAD", F, "", 0o644, long_head))
    assert extract(io.BytesIO(more), project).files == 0


def test_attack_review_an_existing_repository_in_the_project_gets_no_config(
    project: Path,
) -> None:
    fixture = project / "tests" / "fixture.git"
    (fixture / "objects").mkdir(parents=True)
    (fixture / "refs").mkdir()
    (fixture / "HEAD").write_text("ref: refs/heads/main\n")
    (fixture / "config").write_text("[core]\n\tbare = true\n")
    received = extract(io.BytesIO(_tar(("tests/fixture.git/config", F, "", 0o644))), project)
    assert (fixture / "config").read_text() == "[core]\n\tbare = true\n"
    assert received.files == 0


def _raw(header_type: bytes, name: bytes, size: int, data: bytes = b"") -> bytes:
    """One hand-made header (and its data), as a hostile pod could write it."""
    info = tarfile.TarInfo(name.decode(errors="replace"))
    info.size, info.type = size, header_type
    block = bytearray(info.tobuf(format=tarfile.GNU_FORMAT, errors="replace")[-512:])
    return bytes(block) + data + b"\0" * (-len(data) % 512)


def test_attack_review_sparse_files_and_huge_headers_are_refused_bounded(
    project: Path,
) -> None:
    import tracemalloc

    from tazpod.errors import EngineError

    sparse = tarfile.TarInfo("huge")
    sparse.type = tarfile.GNUTYPE_SPARSE
    sparse.size = 0
    sparse_archive = bytes(sparse.tobuf(format=tarfile.GNU_FORMAT)) + b"\0" * 1024
    with pytest.raises(EngineError, match="sparse member"):
        extract(io.BytesIO(sparse_archive), project)
    assert not (project / "huge").exists()
    # A pax size record would make tarfile frame a member otherwise than its header says
    # (and read a huge metadata header the walk took for data: the code review).
    sized = tarfile.TarInfo("sized")
    sized.pax_headers = {"size": "0"}
    framed = io.BytesIO()
    with tarfile.open(fileobj=framed, mode="w", format=tarfile.PAX_FORMAT) as archive:
        archive.addfile(sized, io.BytesIO(b""))
    with pytest.raises(EngineError, match="changes a member's size"):
        extract(io.BytesIO(framed.getvalue()), project)

    hostile = _raw(tarfile.GNUTYPE_LONGNAME, b"././@LongLink", 50 << 20) + b"x" * (50 << 20)
    stream = io.BytesIO(hostile)
    tracemalloc.start()
    try:
        with pytest.raises(EngineError, match="metadata header over 1048576 bytes"):
            extract(stream, project)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20, peak


def test_attack_review_oddities_are_left_out_not_crashes(project: Path) -> None:
    long_leaf = "n" * 250  # valid in the pod; the temp name must not grow past the limit
    members = [
        (long_leaf, F, "", 0o644),
        ("after.txt", F, "", 0o644),
        (".GIT/config", F, "", 0o644),
        (".git\u200c/config", F, "", 0o644),
        ("GIT~1/config", F, "", 0o644),
        (".Tazpod/config.yaml", F, "", 0o644),
        ("alias", S, "linked/victim.txt", 0o777),  # down, but out through the user's link
        ("nl\nfake line", F, "../x", 0o644),
    ]
    received = extract(io.BytesIO(_tar(*members)), project)
    assert (project / long_leaf).exists() and (project / "after.txt").exists()
    for name in (".GIT", ".git\u200c", "GIT~1", ".Tazpod", "alias"):
        assert not os.path.lexists(project / name), name
    assert not [p for p in project.rglob(".tazpod-pull-*")]
    assert received.files == 3  # the long name, after.txt and the one with a newline


def test_attack_review_a_damaged_header_is_not_taken_for_the_end(project: Path) -> None:
    from tazpod.errors import EngineError

    good = _tar(("first", F, "", 0o644), ("second", F, "", 0o644))
    with tarfile.open(fileobj=io.BytesIO(good)) as archive:
        second = archive.getmember("second")
    damaged = bytearray(good)
    damaged[second.offset + 148 : second.offset + 156] = b"0000000\0"  # a wrong checksum
    with pytest.raises(EngineError, match="cannot be read past byte"):
        extract(io.BytesIO(bytes(damaged)), project)
    assert (project / "first").exists()


def test_attack_review_a_nonsense_mtime_still_writes_the_file(project: Path) -> None:
    info = tarfile.TarInfo("dated")
    info.mtime, info.size = 2**80, 2
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as archive:
        archive.addfile(info, io.BytesIO(b"ok"))
    received = extract(io.BytesIO(buffer.getvalue()), project)
    assert (project / "dated").read_bytes() == b"ok" and received.files == 1


def test_a_packing_that_failed_in_the_pod_is_named_not_called_a_damaged_archive(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Code review: the archive's fault was reported before the exit code was read."""
    import contextlib

    from tazpod.engines.kubernetes import workspace
    from tazpod.errors import EngineError

    status = b'{"status":"Failure","details":{"causes":[{"reason":"ExitCode","message":"2"}]}}'
    frames = [b"\x02tazpod: cannot list the workspace\n", b"\x03" + status]

    @contextlib.contextmanager
    def output_of(*_args: object) -> Iterator[stream.OutputStream]:
        yield stream.OutputStream(_Ws(frames))

    monkeypatch.setattr(stream, "output_of", output_of)
    with pytest.raises(EngineError) as raised:
        workspace.pull(None, "pod", project, "tazpod")  # type: ignore[arg-type]
    assert str(raised.value).startswith("packing the pod's workspace failed (exit 2)")
    assert "cannot list the workspace" in str(raised.value)
