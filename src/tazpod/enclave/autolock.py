"""Auto-lock: an open enclave saves and closes itself when idle, or when open too long.

`vault.idle_lock`: that long with no input on any of the enclave's terminals and no CPU
time used by any of its processes (nor a process started); `vault.max_open`: that long
since it opened, busy or not. A minute before (a quarter of the value, for values under
4 minutes), every terminal of the enclave is warned; then the supervisor ends the enclave
as `tazpod lock` does, saying why.

The decision is plain code over readings (``Reading``, ``is_active``, ``AutoLock.step``),
tested with readings made up; ``AutoLock.poll`` takes them from tazpod.sysio.activity.
Which terminals count: those of the supervisor and of the joined sessions' tazpod (root's
processes, on the terminal the user opened the enclave from), and those of the enclave's
processes when the device belongs to the enclave's user (a process of the enclave could
make a terminal of its own numbering: it never gets a warning onto someone else's).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tazpod.project.durations import render
from tazpod.sysio import activity

WARN_AHEAD = 60.0  # seconds of warning before a lock
CHECK_EVERY = 5.0  # the supervisor's longest wait between two looks

ProcessKey = tuple[int, int]  # (pid, start time)


@dataclass(frozen=True)
class Limits:
    """`vault.idle_lock` and `vault.max_open`, in seconds; None: off."""

    idle_lock: int | None = None
    max_open: int | None = None


def warning_lead(limit: float) -> float:
    """How long before a lock the terminals are warned: a minute, less for short limits."""
    return min(WARN_AHEAD, limit / 4)


@dataclass(frozen=True)
class Reading:
    """One look at the enclave: its processes' CPU time and its terminals' last input."""

    taken_at: float  # wall clock, as the terminals' times
    cpu: Mapping[ProcessKey, int] = field(default_factory=dict)  # process -> CPU ticks
    input_at: Mapping[activity.Device, float] = field(default_factory=dict)  # terminal -> time


def is_active(before: Reading, after: Reading) -> bool:
    """Whether anything happened in the enclave between two readings.

    A process that used CPU time, or one that started (it is new: something ran to start
    it); a terminal read from (its input time moved; for a terminal new since ``before``,
    input after ``before`` was taken). A process that ended is no activity: its CPU time
    shows in its parent's, when the parent is the enclave's and reaps it.
    """
    if any(ticks > before.cpu.get(key, -1) for key, ticks in after.cpu.items()):
        return True
    return any(
        when > before.input_at.get(device, before.taken_at)
        for device, when in after.input_at.items()
    )


@dataclass(frozen=True)
class Step:
    """What the supervisor does after a look: warn the terminals, and/or lock (why)."""

    warnings: tuple[str, ...] = ()
    lock: str | None = None  # "idle for 30m", "open for 8h"


class _Timer:
    """One limit: when it fires, counted from ``since``, and whether it warned."""

    def __init__(self, limit: int, since: float) -> None:
        self.limit = limit
        self.lead = warning_lead(limit)
        self.since = since
        self.warned_at: float | None = None

    def restart(self, now: float) -> None:
        self.since, self.warned_at = now, None

    def fires_at(self) -> float:
        """A lock comes a full lead after its warning, however late the warning came."""
        due = self.since + self.limit
        return due if self.warned_at is None else max(due, self.warned_at + self.lead)

    def due(self, now: float) -> tuple[bool, bool]:
        """(warn now, lock now)"""
        if self.warned_at is None:
            if now >= self.since + self.limit - self.lead:
                self.warned_at = now
                return True, False
            return False, False
        return False, now >= self.fires_at()


class AutoLock:
    """The auto-lock of one enclave; times are time.monotonic() unless named wall."""

    def __init__(self, limits: Limits, user_uid: int, now: float | None = None) -> None:
        self.limits = limits
        self.user_uid = user_uid
        start = time.monotonic() if now is None else now
        self.idle = _Timer(limits.idle_lock, start) if limits.idle_lock else None
        self.open = _Timer(limits.max_open, start) if limits.max_open else None
        # Short limits (tests) are looked at more often: an eighth of the shortest.
        chosen = [limit for limit in (limits.idle_lock, limits.max_open) if limit]
        self.every = min([CHECK_EVERY, *(max(0.25, limit / 8) for limit in chosen)])
        self.next_look = start
        self.previous: Reading | None = None

    @property
    def on(self) -> bool:
        return self.idle is not None or self.open is not None

    def wait(self, now: float | None = None) -> float:
        """The supervisor's selector timeout: until the next look."""
        if not self.on:
            return CHECK_EVERY
        now = time.monotonic() if now is None else now
        return min(CHECK_EVERY, max(0.0, self.next_look - now))

    def step(self, now: float, reading: Reading) -> Step:
        active = self.previous is not None and is_active(self.previous, reading)
        if self.idle is not None and active:
            self.idle.restart(now)
        self.previous = reading
        warnings: list[str] = []
        lock = None
        if self.open is not None:
            warn, ends = self.open.due(now)
            if warn:
                warnings.append(
                    f"this enclave has been open for {render(now - self.open.since)};"
                    f" it saves the vault and closes in {render(self.open.lead)}"
                    f" (vault.max_open: {render(self.open.limit)})"
                )
            lock = f"open for {render(self.open.limit)}" if ends else None
        if self.idle is not None:
            warn, ends = self.idle.due(now)
            if warn:
                warnings.append(
                    f"this enclave has been idle for {render(now - self.idle.since)};"
                    f" it saves the vault and closes in {render(self.idle.lead)} unless there"
                    f" is input (vault.idle_lock: {render(self.idle.limit)})"
                )
            lock = lock or (f"idle for {render(self.idle.limit)}" if ends else None)
        return Step(tuple(warnings), lock)

    def status(self, now: float | None = None, wall: float | None = None) -> dict[str, Any]:
        """For `tazpod vault status`: each limit and when it fires (wall clock), if on."""
        now = time.monotonic() if now is None else now
        wall = time.time() if wall is None else wall
        out: dict[str, Any] = {}
        for name, timer in (("idle_lock", self.idle), ("max_open", self.open)):
            out[name] = timer.limit if timer is not None else None
            out[f"{name}_at"] = wall + timer.fires_at() - now if timer is not None else None
        return out

    # -- the supervisor's side ------------------------------------------------------------
    def poll(self, roots: Sequence[int]) -> str | None:
        """Look now if it is time; warn the terminals if due. Returns why to lock, if so.

        ``roots``: the supervisor and the joined sessions' tazpod processes.
        """
        now = time.monotonic()
        if not self.on or now < self.next_look:
            return None
        self.next_look = now + self.every
        try:
            reading = self.read(roots)
        except OSError:  # /proc unreadable for a moment: never a reason to end without a save
            return None
        step = self.step(now, reading)
        for text in step.warnings:
            for device in reading.input_at:
                activity.tell(device, f"\r\ntazpod: {text}\r\n")
        return step.lock

    def read(self, roots: Sequence[int]) -> Reading:
        taken_at = time.time()
        tops, processes = activity.process_tree(list(roots))
        trusted = {process.terminal for process in tops if process.terminal is not None}
        devices = trusted | {process.terminal for process in processes if process.terminal}
        input_at: dict[activity.Device, float] = {}
        for device in devices:
            state = activity.terminal_state(device)
            if state is not None and (device in trusted or state.owner == self.user_uid):
                input_at[device] = state.input_at
        cpu = {(process.pid, process.started): process.cpu_ticks for process in processes}
        return Reading(taken_at, cpu, input_at)
