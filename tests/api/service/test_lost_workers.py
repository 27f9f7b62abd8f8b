"""A dead worker's job handed out again from its stale heartbeat: once, without waiting for the broker."""

from __future__ import annotations

import sys
import time
from datetime import timedelta

import pytest

from binroute.api.service.db import PlanRow, now
from binroute.api.service.jobs import PLAN_JOB, SIMULATION_JOB, Heartbeat, Sweeper, deliver, lifecycle, requeue_stale

from .helpers import get_row, set_row


def test_a_job_with_a_stale_heartbeat_is_handed_out_once(database_url, jobs):
    """Running with a stale heartbeat: put back queued once (a second sweep finds nothing); fresh ones stay put."""
    factory, ids = jobs
    for kind in (PLAN_JOB, SIMULATION_JOB):
        job_id = ids[kind.model]
        assert deliver(kind, factory, job_id, max_attempts=3) == "run"
        assert requeue_stale(factory, kind, stale_s=30) == []  # beating: alive
        set_row(factory, kind.model, job_id, heartbeat=now() - timedelta(seconds=31))
        assert requeue_stale(factory, kind, stale_s=30) == [job_id]
        assert requeue_stale(factory, kind, stale_s=30) == []  # taken once, by one sweeper
        row = get_row(factory, kind.model, job_id)
        assert row.status == "queued" and row.attempts == 1
        assert deliver(kind, factory, job_id, max_attempts=3) == "run"  # the copy sent again starts it
        assert deliver(kind, factory, job_id, max_attempts=3) == "wait"  # and a second copy does not
        assert get_row(factory, kind.model, job_id).attempts == 2


def test_a_job_put_back_whose_task_was_lost_is_sent_again(jobs):
    """A send that fails leaves the job queued with its mark; once the mark is stale it is sent again."""
    factory, ids = jobs
    plan_id = ids[PlanRow]
    set_row(factory, PlanRow, plan_id, status="running", heartbeat=now() - timedelta(seconds=60))
    sent: list[str] = []

    def broken(kind, job_id):
        raise ConnectionError("broker gone")

    times = {"stale_s": 30, "queued_s": 120}
    assert Sweeper(factory, [PLAN_JOB], broken, **times).sweep() == []
    assert get_row(factory, PlanRow, plan_id).status == "queued"
    assert Sweeper(factory, [PLAN_JOB], lambda k, j: sent.append(j), **times).sweep() == []  # sent just now
    set_row(factory, PlanRow, plan_id, heartbeat=now() - timedelta(seconds=121))
    assert Sweeper(factory, [PLAN_JOB], lambda k, j: sent.append(j), **times).sweep() == [plan_id]
    assert sent == [plan_id]


def test_a_plan_queued_long_is_sent_again_in_case_its_task_was_lost(jobs):
    """A plan queued past QUEUED_S since it was created (a broker restarted empty) is sent again, once a period."""
    factory, ids = jobs
    plan_id = ids[PlanRow]
    sent: list[str] = []
    sweeper = Sweeper(factory, [PLAN_JOB], lambda k, j: sent.append(j), stale_s=30, queued_s=120)
    assert sweeper.sweep() == []  # created just now: its task is on the queue
    set_row(factory, PlanRow, plan_id, created=now() - timedelta(seconds=121))
    assert sweeper.sweep() == [plan_id]
    assert sweeper.sweep() == []  # sent again: not again for another period
    assert deliver(PLAN_JOB, factory, plan_id, max_attempts=3) == "run"  # the copy starts it as any task would


@pytest.mark.slow
def test_the_heartbeat_process_beats_while_the_interpreter_is_held(jobs, monkeypatch):
    """A search holding the interpreter (as OR-Tools does) does not stop the beats: they come from a process."""
    monkeypatch.setattr(lifecycle, "HEARTBEAT_S", 0.2)
    factory, ids = jobs
    plan_id = ids[PlanRow]
    set_row(factory, PlanRow, plan_id, status="running", heartbeat=None)
    url = str(factory.kw["bind"].url.render_as_string(hide_password=False))
    switch = sys.getswitchinterval()
    with Heartbeat(factory, PLAN_JOB, plan_id, database_url=url):
        end = time.monotonic() + 20
        while get_row(factory, PlanRow, plan_id).heartbeat is None and time.monotonic() < end:
            time.sleep(0.05)
        first = get_row(factory, PlanRow, plan_id).heartbeat
        assert first is not None
        sys.setswitchinterval(30)  # no other thread of this process runs during the loop below
        try:
            spin = time.monotonic() + 4.0  # long enough for the beating process to get a core on a busy machine
            while time.monotonic() < spin:
                pass
        finally:
            sys.setswitchinterval(switch)
        assert get_row(factory, PlanRow, plan_id).heartbeat > first + timedelta(seconds=0.5)
    last = get_row(factory, PlanRow, plan_id).heartbeat
    time.sleep(0.6)
    assert get_row(factory, PlanRow, plan_id).heartbeat == last  # the process stopped with the block
