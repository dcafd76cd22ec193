"""``permissions.scheduler``: named jobs start as soon as what they need has finished.

Concurrency is shown with events and barriers, never with timings: a job that waits for
another to be running at the same time fails (after a generous timeout) if the scheduler ran
them one after the other.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from credhelper.permissions.scheduler import Job, Scheduler, Task

from .stubbed_iam import InlineExecutor

WAIT = 10.0  # seconds; only reached when the behaviour under test is broken


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=4) as executor:
        yield executor


def test_a_job_runs_after_every_job_it_needs(pool: ThreadPoolExecutor) -> None:
    finished: list[str] = []
    lock = threading.Lock()

    def step(name: str) -> Task:
        def run() -> None:
            with lock:
                finished.append(name)

        return run

    scheduler = Scheduler(pool)
    # Added before what it needs: order of adding does not matter, names do.
    scheduler.add(Job("report", step("report"), needs=("policy", "tags")))
    scheduler.add(Job("policy", step("policy")))
    scheduler.add(Job("tags", step("tags"), needs=("policy",)))
    scheduler.run()

    assert finished == ["policy", "tags", "report"]


def test_a_job_starts_while_unrelated_work_still_runs(pool: ThreadPoolExecutor) -> None:
    # "slow" only finishes once "second" (which needs "first") has run: a scheduler that
    # waited for a whole wave of jobs before starting the next would never get there.
    second_ran = threading.Event()

    def slow() -> None:
        assert second_ran.wait(WAIT), "second never started while slow was running"

    scheduler = Scheduler(pool)
    scheduler.add(Job("slow", slow))
    scheduler.add(Job("first", lambda: None))
    scheduler.add(Job("second", lambda: second_ran.set(), needs=("first",)))
    scheduler.run()

    assert second_ran.is_set()


def test_independent_jobs_run_in_parallel(pool: ThreadPoolExecutor) -> None:
    both_running = threading.Barrier(2, timeout=WAIT)

    def meet() -> None:
        both_running.wait()

    scheduler = Scheduler(pool)
    scheduler.add(meet)
    scheduler.add(meet)

    scheduler.run()  # a BrokenBarrierError here means the two ran one after the other


def test_follow_ups_may_need_names_that_finished_earlier(pool: ThreadPoolExecutor) -> None:
    seen: list[str] = []

    def lister() -> Iterable[Task]:
        return [Job("reader", lambda: seen.append("reader"), needs=("setup",))]

    scheduler = Scheduler(pool)
    scheduler.add(Job("setup", lambda: seen.append("setup")))
    scheduler.add(Job("lister", lister))
    scheduler.run()

    assert seen == ["setup", "reader"]


def test_a_failure_is_raised_after_the_rest_and_its_dependents_never_run(
    pool: ThreadPoolExecutor,
) -> None:
    ran: list[str] = []

    def broken() -> None:
        raise OSError("no network")

    scheduler = Scheduler(pool)
    scheduler.add(Job("caller", broken))
    scheduler.add(Job("needs-caller", lambda: ran.append("needs-caller"), needs=("caller",)))
    scheduler.add(Job("independent", lambda: ran.append("independent")))

    with pytest.raises(OSError, match="no network"):
        scheduler.run()
    assert ran == ["independent"]


def test_a_need_no_job_fulfils_is_reported_not_skipped() -> None:
    scheduler = Scheduler(InlineExecutor())
    scheduler.add(Job("simulate", lambda: None, needs=("identity", "tags")))
    scheduler.add(Job("identity", lambda: None))

    with pytest.raises(RuntimeError, match="no job fulfilled: tags"):
        scheduler.run()


def test_two_jobs_with_one_name_are_refused() -> None:
    scheduler = Scheduler(InlineExecutor())
    scheduler.add(Job("caller", lambda: None))
    with pytest.raises(ValueError, match="two jobs are named 'caller'"):
        scheduler.add(Job("caller", lambda: None))


def test_follow_ups_wait_until_every_stage_ran(pool: ThreadPoolExecutor) -> None:
    # The check creates the IAM client in a stage while GetCallerIdentity is on the network;
    # the IAM reads that the caller's answer starts must find the client there.
    clients: dict[str, str] = {}
    caller_done = threading.Event()
    used: list[str] = []

    def caller() -> Iterable[Task]:
        caller_done.set()
        return [lambda: used.append(clients["iam"])]

    def create_iam_client() -> None:
        assert caller_done.wait(WAIT)  # the follow-up exists already; it must not start yet
        clients["iam"] = "iam-client"

    scheduler = Scheduler(pool)
    scheduler.add(caller)
    scheduler.run([create_iam_client])

    assert used == ["iam-client"]


def test_stage_work_starts_with_the_first_jobs_still_running(pool: ThreadPoolExecutor) -> None:
    both_running = threading.Barrier(2, timeout=WAIT)

    def meet() -> None:
        both_running.wait()

    def stage() -> list[Task]:
        return [meet]

    scheduler = Scheduler(pool)
    scheduler.add(meet)
    scheduler.run([stage])
