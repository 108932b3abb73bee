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


def _nothing() -> None:
    pass


def alternating(
    first: Callable[[], object],
    second: Callable[[], object],
    runs: int,
    warmup: int = 2,
    setups: tuple[Callable[[], object], Callable[[], object]] = (_nothing, _nothing),
) -> tuple[float, float, float]:
    """Run A B A B ...: the medians of each, and the median of the pairs' ratios A/B.

    Alternating puts both under the same moment's load (these machines are noisy); the
    ratio of each pair, not of two medians taken minutes apart, is the result. Each
    sample's setup (``setups``: A's, B's) runs untimed just before it.
    """
    for _ in range(warmup):
        setups[0]()
        first()
        setups[1]()
        second()
    a_samples: list[float] = []
    b_samples: list[float] = []
    for _ in range(runs):
        for action, setup, samples in (
            (first, setups[0], a_samples),
            (second, setups[1], b_samples),
        ):
            setup()
            started = time.perf_counter()
            action()
            samples.append((time.perf_counter() - started) * 1000)
    ratios = [a / b for a, b in zip(a_samples, b_samples, strict=True) if b]
    return statistics.median(a_samples), statistics.median(b_samples), statistics.median(ratios)


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
    paired_ratio: float | None = None  # the median of alternating pairs' ratios, if measured

    @property
    def ratio(self) -> float:
        if self.paired_ratio is not None:
            return self.paired_ratio
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
