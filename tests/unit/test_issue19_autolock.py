"""Issue 19, part 4: auto-lock settings, the idle decision (fed readings), its system layer."""

from __future__ import annotations

import os
import pty
import select
from collections.abc import Callable
from pathlib import Path

import pytest

from tazpod.enclave.autolock import AutoLock, Limits, Reading, is_active, warning_lead
from tazpod.errors import ConfigError, ExitCode
from tazpod.project import durations, trust
from tazpod.project.config import read_project_config
from tazpod.sysio import activity

Cli = Callable[..., tuple[int, str, str]]


# -- durations ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("90s", 90),
        ("30m", 1800),
        ("8h", 8 * 3600),
        ("1h30m", 5400),
        ("2m5s", 125),
        (" 45s ", 45),
        (0, None),
        ("0", None),
        ("0s", None),
        ("0h0m", None),
    ],
)
def test_issue19_durations(value: object, seconds: int | None) -> None:
    assert durations.parse(value) == seconds


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (30, "has no unit"),
        ("30", "is not a duration"),
        ("30 minutes", "is not a duration"),
        ("1.5h", "is not a duration"),
        ("30m1h", "is not a duration"),
        ("-5m", "is not a duration"),
        ("", "is not a duration"),
        (True, "not a boolean"),
    ],
)
def test_issue19_bad_durations_say_what_to_write(value: object, reason: str) -> None:
    with pytest.raises(ValueError) as caught:
        durations.parse(value)
    assert reason in str(caught.value)
    assert "write e.g. 90s, 30m, 8h or 1h30m (0 for off)" in str(caught.value)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (45, "45s"),
        (60, "1m"),
        (125, "2m5s"),
        (5400, "1h30m"),
        (28800, "8h"),
        (1.6, "2s"),
    ],
)
def test_issue19_durations_render_as_written(seconds: float, text: str) -> None:
    assert durations.render(seconds) == text
    assert durations.parse(text) == (round(seconds) or None)


# -- config.yaml and tazpod trust ------------------------------------------------------------
BASE = "image: x\ncontainer_name: c\n"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def test_issue19_config_reads_idle_lock_and_max_open(tmp_path: Path) -> None:
    off = read_project_config(_write(tmp_path, BASE)).config.vault
    assert (off.idle_lock, off.max_open) == (None, None)
    text = BASE + "vault:\n  idle_lock: 30m\n  max_open: 8h\n"
    on = read_project_config(_write(tmp_path, text)).config.vault
    assert (on.idle_lock, on.max_open) == (1800, 8 * 3600)
    zero = read_project_config(_write(tmp_path, BASE + "vault:\n  idle_lock: 0\n"))
    assert zero.config.vault.idle_lock is None and zero.warnings == ()


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("vault:\n  idle_lock: 30\n", ":4: vault.idle_lock: 30 has no unit; write e.g. 90s"),
        ("vault:\n  backend: ram\n  max_open: 8 hours\n", ":5: vault.max_open: '8 hours' is not"),
        ("vault:\n  max_open: off\n", ":4: vault.max_open: 'off' is not a duration"),
    ],
)
def test_issue19_bad_values_name_file_line_key_and_fix(
    tmp_path: Path, text: str, fragment: str
) -> None:
    path = _write(tmp_path, BASE + text)
    with pytest.raises(ConfigError) as caught:
        read_project_config(path)
    assert str(path) + fragment in caught.value.message
    assert "(0 for off)" in caught.value.message


def test_issue19_trust_approves_the_auto_lock_settings(in_tmp: Path, cli: Cli) -> None:
    cli("init", "base")
    config = in_tmp / ".tazpod" / "config.yaml"
    before = read_project_config(config).config
    assert not any("idle_lock" in key or "max_open" in key for key in trust.settings_of(before))
    text = config.read_text()
    assert "  backend: ram\n" in text
    config.write_text(text.replace("  backend: ram\n", "  backend: ram\n  idle_lock: 0\n"))
    assert cli("vault", "status")[0] == 0  # off as before: the approval still holds
    config.write_text(text.replace("  backend: ram\n", "  backend: ram\n  idle_lock: 30m\n"))
    code, _, err = cli("vault", "status")
    assert code == ExitCode.CONFIG
    assert "vault.idle_lock: (not set) -> 1800" in err
    assert cli("trust", "--yes")[0] == 0
    code, out, err = cli("vault", "status")
    assert code == 0, err
    assert "idle lock:   30m (vault.idle_lock)" in out
    assert "max open:    off (vault.max_open)" in out


def test_issue19_the_template_documents_both_keys(in_tmp: Path, cli: Cli) -> None:
    cli("init", "base")
    config = in_tmp / ".tazpod" / "config.yaml"
    text = config.read_text()
    for key, value in (("idle_lock", "30m"), ("max_open", "8h")):
        assert f"  # {key}: {value}\n" in text
        text = text.replace(f"  # {key}: {value}\n", f"  {key}: {value}\n")
    config.write_text(text)
    vault = read_project_config(config).config.vault
    assert (vault.idle_lock, vault.max_open) == (1800, 8 * 3600)


# -- the idle decision -----------------------------------------------------------------------
def _reading(
    taken_at: float,
    cpu: dict[tuple[int, int], int] | None = None,
    tty: dict[tuple[int, int], float] | None = None,
) -> Reading:
    return Reading(taken_at, cpu or {}, tty or {})


SHELL, EDITOR = (100, 5000), (101, 5001)
PTS0, PTS1 = (136, 0), (136, 1)


def test_issue19_idle_means_no_cpu_no_new_process_and_no_input() -> None:
    base = _reading(1000.0, {SHELL: 7, EDITOR: 3}, {PTS0: 990.0})
    assert not is_active(base, _reading(1005.0, {SHELL: 7, EDITOR: 3}, {PTS0: 990.0}))
    assert not is_active(base, _reading(1005.0, {SHELL: 7}, {PTS0: 990.0}))  # one ended
    assert not is_active(base, _reading(1005.0, {SHELL: 7, EDITOR: 3}, {}))  # tty closed
    assert is_active(base, _reading(1005.0, {SHELL: 7, EDITOR: 4}, {PTS0: 990.0}))  # CPU
    assert is_active(base, _reading(1005.0, {SHELL: 7, EDITOR: 3}, {PTS0: 1003.0}))  # typed
    new = (102, 6000)
    assert is_active(base, _reading(1005.0, {SHELL: 7, EDITOR: 3, new: 0}, {PTS0: 990.0}))
    reused = (101, 6001)  # the editor's pid, another process: new
    assert is_active(base, _reading(1005.0, {SHELL: 7, reused: 0}, {PTS0: 990.0}))
    # A terminal seen for the first time: input after the previous look counts, older not.
    assert not is_active(base, _reading(1005.0, {SHELL: 7, EDITOR: 3}, {PTS0: 990.0, PTS1: 999}))
    assert is_active(base, _reading(1005.0, {SHELL: 7, EDITOR: 3}, {PTS0: 990.0, PTS1: 1002}))


def test_issue19_warning_lead_is_a_minute_or_a_quarter() -> None:
    assert warning_lead(30 * 60) == 60.0
    assert warning_lead(240) == 60.0
    assert warning_lead(8) == 2.0


def _quiet(at: float) -> Reading:
    return _reading(at, {SHELL: 5}, {PTS0: 0.0})


def test_issue19_idle_lock_warns_then_locks_and_input_postpones_it() -> None:
    lock = AutoLock(Limits(idle_lock=1800), user_uid=1000, now=0.0)
    assert lock.step(0.0, _quiet(0.0)).warnings == ()
    assert lock.step(1739.0, _quiet(1739.0)).warnings == ()
    step = lock.step(1745.0, _quiet(1745.0))
    assert step.lock is None and len(step.warnings) == 1
    assert "idle for 29m5s" in step.warnings[0] and "closes in 1m unless" in step.warnings[0]
    assert "(vault.idle_lock: 30m)" in step.warnings[0]
    assert lock.status(now=1745.0, wall=50_000.0)["idle_lock_at"] == 50_000.0 + 60
    assert lock.step(1790.0, _quiet(1790.0)).lock is None  # the full minute after the warning
    # Typing during the warning: idle again from now, a new warning before the next lock.
    for second in (1800.0, 1801.0, 3539.0):
        assert lock.step(second, _reading(second, {SHELL: 5}, {PTS0: 1799.0})).warnings == ()
    assert len(lock.step(3540.0, _reading(3540.0, {SHELL: 5}, {PTS0: 1799.0})).warnings) == 1
    assert lock.step(3599.0, _reading(3599.0, {SHELL: 5}, {PTS0: 1799.0})).lock is None
    assert lock.step(3600.0, _reading(3600.0, {SHELL: 5}, {PTS0: 1799.0})).lock == "idle for 30m"


def test_issue19_busy_processes_keep_an_idle_lock_away() -> None:
    lock = AutoLock(Limits(idle_lock=60), user_uid=1000, now=0.0)
    for second in range(0, 600, 5):
        step = lock.step(float(second), _reading(float(second), {SHELL: second}))
        assert step.warnings == () and step.lock is None


def test_issue19_max_open_fires_even_while_busy() -> None:
    lock = AutoLock(Limits(idle_lock=3600, max_open=8 * 3600), user_uid=1000, now=0.0)
    warned: list[str] = []
    for second in range(0, 8 * 3600 + 30, 30):
        step = lock.step(float(second), _reading(float(second), {SHELL: second}))
        warned += step.warnings
        if step.lock:
            break
    assert step.lock == "open for 8h" and second == 8 * 3600
    assert len(warned) == 1 and "open for 7h59m" in warned[0]
    assert "(vault.max_open: 8h)" in warned[0]


def test_issue19_a_late_look_still_warns_a_full_lead_before_locking() -> None:
    lock = AutoLock(Limits(max_open=8), user_uid=1000, now=0.0)  # lead: 2 s
    lock.step(0.0, _quiet(0.0))
    late = lock.step(30.0, _quiet(30.0))  # the machine stalled past the deadline
    assert late.lock is None and len(late.warnings) == 1
    assert lock.step(31.9, _quiet(31.9)).lock is None
    assert lock.step(32.0, _quiet(32.0)).lock == "open for 8s"


def test_issue19_off_by_default_and_status_says_so() -> None:
    lock = AutoLock(Limits(), user_uid=1000, now=0.0)
    assert not lock.on and lock.wait(now=0.0) == 5.0
    assert lock.poll([os.getpid()]) is None
    assert lock.status() == {
        "idle_lock": None,
        "idle_lock_at": None,
        "max_open": None,
        "max_open_at": None,
    }
    short = AutoLock(Limits(idle_lock=4, max_open=3600), user_uid=1000, now=10.0)
    assert short.every == 0.5  # short values are looked at often enough to warn in time
    status = short.status(now=10.0, wall=100.0)
    assert status == {
        "idle_lock": 4,
        "idle_lock_at": 104.0,
        "max_open": 3600,
        "max_open_at": 3700.0,
    }


# -- the system layer ----------------------------------------------------------------------
STAT = (  # what follows "pid (comm) " in /proc/<pid>/stat, up to the start time and beyond
    "{pid} (a (b) c) S {ppid} {pid} {pid} {tty} -1 4194304 1 0 0 0"
    " {ut} {st} {cut} {cst} 20 0 1 0 {start} 1 1\n"
)


def _fake_proc(tmp_path: Path, rows: list[tuple[int, int, int, int]]) -> Path:
    for pid, ppid, tty, start in rows:
        (tmp_path / str(pid)).mkdir()
        (tmp_path / str(pid) / "stat").write_text(
            STAT.format(pid=pid, ppid=ppid, tty=tty, ut=10, st=2, cut=pid, cst=0, start=start)
        )
    (tmp_path / "self").mkdir()
    return tmp_path


def test_issue19_process_tree_reads_cpu_time_and_terminals(tmp_path: Path) -> None:
    pts_300 = (137 << 8) | (300 - 256)  # /dev/pts/300: major 137, minor 44
    proc = _fake_proc(
        tmp_path,
        [(10, 1, pts_300, 50), (11, 10, pts_300, 60), (12, 11, 0, 70), (13, 1, 0, 80)],
    )
    tops, below = activity.process_tree([10, 99], proc)
    assert [p.pid for p in tops] == [10]
    assert {(p.pid, p.started, p.cpu_ticks, p.terminal) for p in below} == {
        (11, 60, 12 + 11, (137, 44)),
        (12, 70, 12 + 12, None),
    }
    assert activity.terminal_path((137, 44)) == "/dev/pts/300"
    assert activity.terminal_path((4, 2)) == "/dev/tty2"
    assert activity.terminal_path((4, 64)) is None  # a serial line: nobody types there
    assert activity.terminal_path((8, 0)) is None


def test_issue19_a_real_terminal_input_time_and_warning() -> None:
    master, slave = pty.openpty()
    try:
        info = os.fstat(slave)
        device = (os.major(info.st_rdev), os.minor(info.st_rdev))
        state = activity.terminal_state(device)
        assert state is not None and state.owner == os.getuid()
        assert state.input_at == os.stat(os.ttyname(slave)).st_atime
        assert activity.tell(device, "tazpod: closing soon\r\n")
        ready, _, _ = select.select([master], [], [], 10)
        assert ready and b"tazpod: closing soon" in os.read(master, 1024)
    finally:
        os.close(master)
        os.close(slave)
    assert not activity.tell((136, 1 << 19), "x")  # no such terminal
    assert activity.terminal_state((136, 1 << 19)) is None


def test_issue19_only_the_device_itself_is_read_or_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    master, slave = pty.openpty()
    try:
        info = os.fstat(slave)
        device = (os.major(info.st_rdev), os.minor(info.st_rdev))
        plain, link = tmp_path / "plain", tmp_path / "link"
        plain.write_text("")
        link.symlink_to(os.ttyname(slave))
        for path in (plain, link):  # a file in its place, or a link to the very terminal
            monkeypatch.setattr(activity, "terminal_path", lambda _device, p=path: str(p))
            assert activity.terminal_state(device) is None
            assert not activity.tell(device, "x")
        assert plain.read_text() == ""
        assert select.select([master], [], [], 0.2)[0] == []  # nothing reached the terminal
    finally:
        os.close(master)
        os.close(slave)


def test_issue19_warnings_go_only_to_the_enclaves_terminals(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The supervisor's and joiners' terminals, and the enclave's processes' terminals that
    are the enclave user's: never a terminal of someone else's numbered like one of them."""
    mine, theirs, opener = (136, 2), (136, 3), (136, 1)
    owners = {opener: 0, mine: 1000, theirs: 1001}
    supervisor = activity.ProcessStat(1, 10, 0, opener)
    shell = activity.ProcessStat(2, 11, 5, mine)
    odd = activity.ProcessStat(3, 12, 5, theirs)
    quiet = activity.ProcessStat(4, 13, 5, None)
    monkeypatch.setattr(activity, "process_tree", lambda roots: ([supervisor], [shell, odd, quiet]))
    monkeypatch.setattr(
        activity,
        "terminal_state",
        lambda device: activity.TerminalState(device, owners[device], 100.0),
    )
    told: list[tuple[activity.Device, str]] = []

    def tell(device: activity.Device, text: str) -> bool:
        told.append((device, text))
        return True

    monkeypatch.setattr(activity, "tell", tell)
    lock = AutoLock(Limits(max_open=60), user_uid=1000, now=0.0)  # long past its warning
    reading = lock.read([1])
    assert set(reading.input_at) == {opener, mine}
    assert reading.cpu == {(2, 11): 5, (3, 12): 5, (4, 13): 5}  # the roots' own time is not
    assert lock.poll([1]) is None  # the warning first, the lock a full lead later
    assert {device for device, _text in told} == {opener, mine}
    assert all(text.startswith("\r\ntazpod: this enclave has been open") for _d, text in told)
