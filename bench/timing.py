"""Medians of repeated runs, and the table they go into."""

from __future__ import annotations

import statistics
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass


def median_ms(action: Callable[[], object], runs: int, warmup: int = 1) -> float:
    for _ in range(warmup):
        action()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def command(argv: Sequence[str], **kwargs: object) -> Callable[[], None]:
    def run() -> None:
        done = subprocess.run(  # type: ignore[call-overload]
            list(argv), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kwargs
        )
        if done.returncode != 0:
            raise RuntimeError(f"{argv} failed: {done.stderr.decode()[-500:]}")

    return run


@dataclass
class Row:
    what: str
    tazpod_ms: float
    floor: str
    floor_ms: float
    goal: float | None  # ratio goal (tazpod / floor <= goal)
    note: str = ""

    @property
    def ratio(self) -> float:
        return self.tazpod_ms / self.floor_ms if self.floor_ms else float("nan")

    @property
    def verdict(self) -> str:
        if self.goal is None:
            return "—"
        return "met" if self.ratio <= self.goal else "missed"


def table(rows: Sequence[Row]) -> str:
    lines = [
        "| measure | tazpod (ms) | floor | floor (ms) | ratio | goal | result |",
        "| --- | ---: | --- | ---: | ---: | ---: | --- |",
    ]
    for row in rows:
        goal = f"<= {row.goal}" if row.goal is not None else "—"
        note = f" {row.note}" if row.note else ""
        lines.append(
            f"| {row.what} | {row.tazpod_ms:.1f} | {row.floor} | {row.floor_ms:.1f} |"
            f" {row.ratio:.2f} | {goal} | {row.verdict}{note} |"
        )
    return "\n".join(lines)
