"""A small scheduler for the pre-flight's read-only calls: named jobs, each started as soon as
the jobs it needs have finished, on a bounded thread pool.

Why: a check makes 10-40 read-only AWS calls, most of them independent, some only possible
once another answered (``ListAttachedUserPolicies`` → one ``GetPolicy`` per policy). Started
the moment their inputs exist, the wall time is the longest chain of dependent calls (the
critical path), not the number of calls.

The model:

* a :class:`Job` has a ``name``, the work (``run``) and the names it ``needs``;
* ``run`` may return follow-up work its answer made possible: jobs, or bare callables (a
  :data:`Task`; it gets a generated name because nothing waits for it). A job is itself a
  task (calling it runs it), so lists of work need only the one type;
* a job whose needs have all finished is submitted to the executor; a job whose need failed
  never runs, and the first failure is raised once everything started has finished.

Only the thread calling :meth:`Scheduler.run` touches the scheduler's state (workers hand
their follow-ups back as return values), so there is no lock; and no job ever waits inside a
worker, so a bounded pool cannot deadlock.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from dataclasses import dataclass

# Work that returns the work it made possible (or None); a Job is one too.
Task = Callable[[], "Iterable[Task] | None"]
# Work started on the calling thread, e.g. creating a client while the first calls are on the
# network; it returns more work to start.
Stage = Callable[[], "Iterable[Task] | None"]


@dataclass(frozen=True)
class Job:
    """``run`` once every name in ``needs`` has finished; other jobs may need ``name``."""

    name: str
    run: Task
    needs: tuple[str, ...] = ()

    def __call__(self) -> Iterable[Task] | None:
        return self.run()


class Scheduler:
    """Runs jobs on ``executor`` (which bounds the parallelism) in dependency order.

    Names are unique within one scheduler: a second job with a name already used is a bug
    and raises ``ValueError``. A need that no job ever fulfils is a bug too: :meth:`run`
    raises ``RuntimeError`` naming it rather than returning with work silently skipped.
    """

    def __init__(self, executor: Executor) -> None:
        self._executor = executor
        self._names: set[str] = set()
        self._finished: set[str] = set()
        self._waiting: list[Job] = []
        # Future -> (submission order, job); the order makes follow-ups deterministic.
        self._running: dict[Future[Iterable[Task] | None], tuple[int, Job]] = {}
        self._order = itertools.count()
        self._generated = itertools.count()

    def add(self, work: Task) -> None:
        """Queue ``work``; it starts at the next :meth:`run` step where its needs are met."""
        job = work if isinstance(work, Job) else Job(f"#{next(self._generated)}", work)
        if job.name in self._names:
            raise ValueError(f"two jobs are named {job.name!r}")
        self._names.add(job.name)
        self._waiting.append(job)

    def run(self, stages: Iterable[Stage] = ()) -> None:
        """Run every queued job and all follow-ups until none is left.

        ``stages`` run in order on this thread once the jobs queued so far are in flight;
        follow-ups of finished jobs are taken in only after every stage ran, so a stage can
        set up what follow-ups use (a client) while the first calls wait on the network."""
        self._start_ready()
        try:
            for stage in stages:
                for work in stage() or ():
                    self.add(work)
                self._start_ready()
        except BaseException:
            wait(self._running)
            raise
        first_error = self._drain()
        if first_error is not None:
            raise first_error
        if self._waiting:
            missing = sorted({n for job in self._waiting for n in job.needs} - self._finished)
            raise RuntimeError(f"jobs wait for names no job fulfilled: {', '.join(missing)}")

    def _drain(self) -> BaseException | None:
        """Collect finished jobs and start what they made possible; the first failure."""
        first_error: BaseException | None = None
        while self._running:
            done, _ = wait(self._running, return_when=FIRST_COMPLETED)
            for future in sorted(done, key=lambda f: self._running[f][0]):
                _, job = self._running.pop(future)
                try:
                    follow_ups = future.result()
                except BaseException as exc:
                    first_error = first_error or exc
                    continue
                self._finished.add(job.name)
                for work in follow_ups or ():
                    self.add(work)
            self._start_ready()
        return first_error

    def _start_ready(self) -> None:
        still_waiting: list[Job] = []
        for job in self._waiting:
            if all(need in self._finished for need in job.needs):
                self._running[self._executor.submit(job.run)] = (next(self._order), job)
            else:
                still_waiting.append(job)
        self._waiting = still_waiting
