"""The helper process: a call run in a fresh interpreter, big arrays shared, errors and timeouts reported."""

from __future__ import annotations

import os
import pickle
import time
from pathlib import Path

import numpy as np
import pytest

from binroute import _processes
from binroute._processes import TELL, Call, HelperFailed, HelperTimeout, run_all, start_helper

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _tests_importable(monkeypatch):
    """The helper finds this module's functions (``-P`` keeps the working directory off its path)."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))


def scaled(a: np.ndarray, k: float) -> np.ndarray:
    """A new array: ``a`` times ``k``."""
    return a * k


def is_mapped(a: np.ndarray) -> bool:
    """Whether ``a`` arrived read-only (mapped from its file, not unpickled)."""
    return not a.flags.writeable


def fails(message: str) -> None:
    """Raise a ValueError with ``message``."""
    raise ValueError(message)


def dies() -> None:
    """End the process at once, with no answer."""
    os._exit(3)


def sleeps(seconds: float) -> float:
    """Sleep, then return ``seconds``."""
    time.sleep(seconds)
    return seconds


def counts(n: int, tell) -> int:
    """Tell 0..n-1, return n."""
    for k in range(n):
        tell(k)
    return n


def test_a_large_array_goes_there_and_back():
    """A big array is mapped read-only in the helper, and its answer is read straight into the caller's rows."""
    big = np.arange(600_000, dtype=float).reshape(1000, 600)  # 4.8 MB: travels as a file
    with start_helper(is_mapped, big) as helper:
        assert helper.result(60) is True
    out = np.zeros((1002, 600))
    with start_helper(scaled, big, 2.0) as helper:
        assert len(list(helper.folder.glob("array*.npy"))) == 1
        assert (helper.folder / "job.pickle").stat().st_size < 10_000
        got = helper.result(60, into=out[2:])
    assert got.base is out and np.array_equal(out[2:], big * 2.0) and not out[:2].any()


def test_small_answers_go_into_the_given_array_too():
    """A small array answer is copied into ``into``; one of another shape is refused."""
    out = np.zeros((3, 2))
    with start_helper(scaled, np.ones((3, 2)), 3.0) as helper:
        helper.result(60, into=out)
    assert np.array_equal(out, np.full((3, 2), 3.0))
    with start_helper(scaled, np.ones((2, 2)), 3.0) as helper, pytest.raises(HelperFailed, match="shape"):
        helper.result(60, into=out)


def test_an_exception_in_the_call_is_raised_here_with_its_traceback():
    """The call's own exception comes back, its traceback in the helper as the cause."""
    with start_helper(fails, "bin b7 has no road") as helper, pytest.raises(ValueError, match="bin b7") as caught:
        helper.result(60)
    assert "fails" in str(caught.value.__cause__)


def test_a_dead_helper_is_reported():
    """A helper that dies without an answer raises HelperFailed naming its exit code."""
    with start_helper(dies) as helper, pytest.raises(HelperFailed, match="exit code 3"):
        helper.result(60)


def test_a_helper_that_overruns_is_killed():
    """A helper that takes longer than the timeout raises HelperTimeout and is killed."""
    began = time.monotonic()
    with start_helper(sleeps, 30) as helper:
        with pytest.raises(HelperTimeout):
            helper.result(0.5)
        assert helper.process.poll() is not None
    assert time.monotonic() - began < 20


def test_a_call_that_cannot_be_pickled_is_refused_here():
    """A lambda cannot travel: the error is raised before any process starts."""
    with pytest.raises((pickle.PicklingError, AttributeError)):
        start_helper(lambda: 1)


def test_run_all_keeps_order_relays_messages_and_shares_arrays(monkeypatch):
    """Several calls two at a time: results in order, every message passed on in order per call."""
    monkeypatch.setattr(_processes, "SHARE_MIN_BYTES", 0)
    seen: list[int] = []
    calls = [Call(counts, (n,), {"tell": TELL}) for n in (3, 1, 4)]
    assert run_all(calls, workers=2, on_message=seen.append) == [3, 1, 4]
    assert sorted(seen) == sorted([0, 1, 2, 0, 0, 1, 2, 3])


def test_run_all_raises_the_first_failure():
    """A failing call among others raises its error."""
    with pytest.raises(ValueError, match="nope"):
        run_all([Call(sleeps, (0.1,)), Call(fails, ("nope",))], workers=2)


def test_read_npy_into_checks_shape_and_dtype(tmp_path):
    """A .npy of the right shape is read into the given rows; a wrong shape or type is refused."""
    rows = np.arange(12.0).reshape(3, 4) / 7
    np.save(tmp_path / "a.npy", rows)
    out = np.zeros((5, 4))
    assert _processes._read_npy_into(tmp_path / "a.npy", out[2:])
    assert np.array_equal(out[2:], rows) and not out[:2].any()
    assert not _processes._read_npy_into(tmp_path / "a.npy", np.zeros((2, 4)))
    np.save(tmp_path / "b.npy", rows.astype(np.float32))
    assert not _processes._read_npy_into(tmp_path / "b.npy", np.zeros((3, 4)))


def test_a_pool_passes_messages_on_while_this_process_works():
    """Messages come through relay() calls made between this process's own steps, and results come in order."""
    seen: list[int] = []
    with _processes.Pool(workers=1, on_message=seen.append) as pool:
        pool.submit(Call(counts, (3,), {"tell": TELL}))
        pool.submit(Call(sleeps, (0.1,)))
        deadline = time.monotonic() + 60
        while len(seen) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)  # this process's own work
            pool.relay()
        assert seen == [0, 1, 2]
        assert pool.results() == [3, 0.1]
