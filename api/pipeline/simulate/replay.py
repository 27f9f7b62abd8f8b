"""Trace-driven replay of bin levels: the waste each bin really received, emptied when a policy says.

Each bin's real readings give the waste it received between readings (its
*rises*): the rise from one reading to the next, nothing for a small dip
(sensor noise), and the whole new level after a real emptying (a drop of
:data:`~binroute.routing.forecast.fill_data.EMPTYING_DROP_PCT` points or more). The readings
are first cleaned as the forecast cleans them
(:func:`binroute.routing.forecast.fill_data.clean_readings`): a lone spike (44, 100, 48) is a
sensor error, not 56 points of waste followed by an emptying and 48 more.
Within an interval the waste is taken to arrive at an even rate.

A full bin's sensor cannot show the waste that keeps coming: while two
readings in a row read full (:data:`READS_FULL_PCT` or more), the bin is
taken to receive waste at its own rate, the waste per hour of its intervals
that start below full (:func:`hidden_rises`). Without that, a bin the real
service left full for two days would receive nothing in a replay in which
it was emptied at their start.

:class:`Replay` adds that waste to simulated levels as its clock moves on,
records a simulated reading (capped at 100%, as a sensor reads) at every real
reading time, and empties a bin when a simulated crew lifts it. Levels are
not capped: above 100% is an overflow. Nothing here plans or routes.

A collection log (no sensors) gives a bin's level only just before each
real emptying. :func:`traces_from_log` takes the waste to arrive at a steady
rate between two logged emptyings: the level rises linearly from empty to
the logged fill. A logged 100% is censored ("at least full"): the interval
then receives the larger of 100% and the bin's censored fill rate times its
length (``censored_rate``, % per day: the Tobit rate of
:mod:`binroute.routing.forecast.censored`, fitted on the whole log), so a
bin the real service found full may have overflowed before it came.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from binroute.routing.forecast import EMPTYING_DROP_PCT, clean_readings

#: A bin above this level is overflowing.
FULL_PCT = 100.0
#: A reading at or above this reads full (within a sensor's noise of 100%).
READS_FULL_PCT = 95.0
#: A logged emptying within this many hours of the bin's previous one is the same visit recorded again.
SAME_VISIT_H = 3.0
#: A lift below this level (% of the bin) is a wasted lift: the crew came for a bin not half full.
WASTED_BELOW_PCT = 50.0
_NS_PER_HOUR = 3_600_000_000_000
_NS_PER_DAY = 24 * _NS_PER_HOUR


@dataclass(frozen=True)
class Trace:
    """One bin's real history: reading times (ns since the epoch, ascending) and the waste received.

    ``rise[k]`` is the waste (% of the bin) received in ``(times[k-1], times[k]]``;
    ``rise[0]`` is the level at the first reading; ``levels`` are the readings themselves.
    """

    times: np.ndarray
    rise: np.ndarray
    levels: np.ndarray


def rises(levels: Iterable[float]) -> np.ndarray:
    """The waste received before each reading of one bin's levels (see the module's rules)."""
    values = np.asarray(list(levels), dtype=float)
    out = np.zeros(len(values))
    if not len(values):
        return out
    out[0] = values[0]
    top = values[0]  # highest reading since the last emptying: dips below it are noise
    for k in range(1, len(values)):
        level = values[k]
        if top - level >= EMPTYING_DROP_PCT and level <= 0.6 * top:
            out[k], top = level, level
        elif level > top:
            out[k], top = level - top, level
    return out


def hidden_rises(times: np.ndarray, levels: np.ndarray, rise: np.ndarray) -> np.ndarray:
    """``rise`` with the waste a full sensor hides: between two readings that read full, the bin's own rate.

    The rate is the waste per hour over the bin's intervals that start below
    :data:`READS_FULL_PCT` and hold no emptying; a bin with none keeps its rises.
    """
    out = np.array(rise, dtype=float)
    if len(times) < 2:
        return out
    hours = np.diff(np.asarray(times, dtype=np.int64)) / _NS_PER_HOUR
    before, after = levels[:-1], levels[1:]
    full = (before >= READS_FULL_PCT) & (after >= READS_FULL_PCT)
    open_ = (before < READS_FULL_PCT) & (before - after < EMPTYING_DROP_PCT)
    if not full.any() or hours[open_].sum() <= 0:
        return out
    rate = out[1:][open_].sum() / hours[open_].sum()
    out[1:][full] = np.maximum(out[1:][full], rate * hours[full])
    return out


def traces_from_readings(readings: pd.DataFrame, *, collections: pd.DataFrame | None = None) -> dict[str, Trace]:
    """A :class:`Trace` per bin from readings (``bin_id``, ``timestamp``, ``fill_pct``).

    Blanks, repeats, spikes and stuck runs are dropped as the forecast drops
    them (``collections``, when given, tells a real emptying from a spike).
    """
    df, _ = clean_readings(readings.dropna(subset=["fill_pct"]), collections=collections)
    df = df.sort_values(["bin_id", "timestamp"], kind="stable")
    df = df.drop_duplicates(["bin_id", "timestamp"], keep="last")
    out = {}
    for b, group in df.groupby("bin_id", sort=True):
        times = group["timestamp"].to_numpy(dtype="datetime64[ns]").astype(np.int64)
        levels = group["fill_pct"].clip(0, FULL_PCT).to_numpy(dtype=float)
        out[str(b)] = Trace(times, hidden_rises(times, levels, rises(levels)), levels)
    return out


def traces_from_log(collections: pd.DataFrame, censored_rate: Mapping[str, float]) -> dict[str, Trace]:
    """A :class:`Trace` per bin from a collection log (``bin_id``, ``collected_at``, ``fill_pct``).

    The trace's times are the logged emptyings and its levels are 0 (the bin
    just emptied); ``rise[k]`` is the fill logged at emptying ``k``, or, for a
    logged fill of :data:`FULL_PCT` (censored), the larger of that and
    ``censored_rate[bin]`` (% per day) times the interval. A fill left blank
    is taken at the bin's rate too. Repeated rows (same bin and time) count
    once, and so does a visit recorded again within :data:`SAME_VISIT_H`
    hours (its higher fill kept): a steady rate would read a second 80% an
    hour after the first as 80 points of waste in that hour.

    Raises
    ------
    ValueError
        When a bin has a blank fill and no rate to stand in for it.
    """
    df = collections.dropna(subset=["collected_at"]).sort_values(["bin_id", "collected_at"], kind="stable")
    df = df.drop_duplicates(["bin_id", "collected_at"], keep="last")
    out = {}
    for b, group in df.groupby("bin_id", sort=True):
        times, fill = _same_visits_merged(
            group["collected_at"].to_numpy(dtype="datetime64[ns]").astype(np.int64),
            group["fill_pct"].to_numpy(dtype=float),
        )
        days = np.diff(times, prepend=times[0]) / _NS_PER_DAY
        rate = float(censored_rate.get(str(b), math.nan))
        unknown = np.isnan(fill) | (fill >= FULL_PCT)
        if np.isnan(fill).any() and math.isnan(rate):
            raise ValueError(f"bin {b}: a collection without a fill and no fill rate to estimate it")
        rise = np.where(unknown, np.fmax(np.nan_to_num(fill), np.nan_to_num(rate) * days), fill)
        rise[0] = 0.0  # the waste before the first logged emptying is not known (nor needed)
        out[str(b)] = Trace(times, rise, np.zeros(len(times)))
    return out


def _same_visits_merged(times: np.ndarray, fill: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One bin's emptyings with each visit recorded again (within :data:`SAME_VISIT_H`) merged into its first."""
    keep: list[int] = []
    fills: list[float] = []
    for k in range(len(times)):
        if keep and times[k] - times[keep[-1]] < SAME_VISIT_H * _NS_PER_HOUR:
            fills[-1] = float(np.fmax(fills[-1], fill[k]))
            continue
        keep.append(k)
        fills.append(float(fill[k]))
    return times[keep], np.asarray(fills, dtype=float)


@dataclass
class _State:
    level: float
    clock: int
    next: int  # index of the first reading not yet passed


@dataclass
class Replay:
    """Simulated levels of every bin from ``start`` (ns) on.

    At ``start`` a bin holds what it really held then (its last reading
    before, plus the waste received since at an even rate).

    Attributes
    ----------
    readings
        Per bin, the simulated readings ``(time ns, fill %)`` recorded so far.
    emptied
        Every emptying ``(bin, time ns, level before)`` so far.
    """

    traces: Mapping[str, Trace]
    start: int
    readings: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    emptied: list[tuple[str, int, float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._state = {}
        for b, t in self.traces.items():
            k = max(int(np.searchsorted(t.times, self.start, side="right")) - 1, 0)  # the last real reading by then
            self._state[b] = _State(float(t.levels[k]), int(t.times[k]), k + 1)
        self.readings = {b: [] for b in self.traces}
        for b in self.traces:
            self.level_at(b, self.start)

    def level_at(self, bin_id: str, when: int) -> float:
        """Move ``bin_id``'s clock on to ``when`` (ns; never back) and return its level then."""
        s, t = self._state[bin_id], self.traces[bin_id]
        while when > s.clock:
            if s.next >= len(t.times):  # no more history: no more waste
                s.clock = when
                break
            begin, end = int(t.times[s.next - 1]), int(t.times[s.next])
            upto = min(when, end)
            share = (upto - s.clock) / (end - begin) if end > begin else 1.0
            s.level += float(t.rise[s.next]) * share
            s.clock = upto
            if upto == end:
                if end >= self.start:
                    self.readings[bin_id].append((end, min(s.level, FULL_PCT)))
                s.next += 1
        return s.level

    def peek(self, bin_id: str, when: int) -> float:
        """The level ``bin_id`` would have at ``when`` (ns) if left alone; the replay itself does not move on.

        What only a clairvoyant policy knows: the waste still to come.
        """
        state, recorded = dataclasses.replace(self._state[bin_id]), len(self.readings[bin_id])
        try:
            return self.level_at(bin_id, when)
        finally:
            self._state[bin_id] = state
            del self.readings[bin_id][recorded:]

    def empty(self, bin_id: str, when: int) -> float:
        """Empty ``bin_id`` at ``when`` (ns); returns the level it had just before."""
        before = self.level_at(bin_id, when)
        self._state[bin_id].level = 0.0
        self.emptied.append((bin_id, when, before))
        return before

    def last_seen(self, when: int) -> dict[str, float]:
        """Each bin's latest reading at or before ``when`` (ns): simulated from ``start``, real before; NaN if none."""
        out = {}
        for b, t in self.traces.items():
            sim = [v for at, v in self.readings[b] if at <= when]
            if sim:
                out[b] = sim[-1]
                continue
            real = np.flatnonzero(t.times <= min(when, self.start))
            out[b] = float(t.levels[real[-1]]) if len(real) else float("nan")
        return out

    def day(self, begin: int, end: int, emptyings: Mapping[str, int]) -> DayOutcome:
        """Run one day from ``begin`` to ``end`` (ns), emptying the bins of ``emptyings`` at their times.

        A bin overflows on the day when its level passes 100% at any time in
        it: before an emptying, or by the day's end (levels only rise
        between emptyings, so those are the highest points).

        A bin's *spilled* waste is what it received above 100% in the day
        (% of the bin): its excess over 100% just before an emptying or at the
        day's end, less the excess it started the day with.
        """
        highest = {b: self.level_at(b, begin) for b in self.traces}
        carried = {b: max(h - FULL_PCT, 0.0) for b, h in highest.items()}
        spilled = dict.fromkeys(self.traces, 0.0)
        collected = {}
        for b, when in sorted(emptyings.items(), key=lambda kv: kv[1]):
            collected[b] = self.empty(b, max(when, begin))
            highest[b] = max(highest[b], collected[b])
            spilled[b] += max(collected[b] - FULL_PCT, 0.0) - carried[b]
            carried[b] = 0.0
        for b in self.traces:
            level = self.level_at(b, end)
            highest[b] = max(highest[b], level)
            spilled[b] += max(level - FULL_PCT, 0.0) - carried[b]
        overflowing = sorted(b for b, h in highest.items() if h > FULL_PCT)
        levels = {b: self._state[b].level for b in self.traces}
        return DayOutcome(overflowing, collected, levels, {b: v for b, v in spilled.items() if v > 0})


@dataclass(frozen=True)
class DayOutcome:
    """One replayed day: bins that overflowed, the level each emptied bin had, every level at the day's end.

    ``spilled`` is the waste each overflowing bin received above 100% in the
    day (% of the bin); ``wasted_lifts`` the bins emptied below
    :data:`WASTED_BELOW_PCT`.
    """

    overflowing: list[str]
    collected: dict[str, float]
    levels: dict[str, float]
    spilled: dict[str, float] = field(default_factory=dict)

    @property
    def wasted_lifts(self) -> int:
        """Bins emptied below :data:`WASTED_BELOW_PCT` full."""
        return sum(level < WASTED_BELOW_PCT for level in self.collected.values())
