"""Run the jobs of a sweep: in this process one after another, or through Dask ``distributed``.

Dask schedules the job graph (a ``pnr`` job starts as soon as its ``ice40`` job is done, on any
free worker), on a ``LocalCluster`` of worker processes on this machine by default, or on a
running Dask cluster given by its scheduler's address. Results do not depend on where or in
which order the jobs ran: every job is a deterministic function of its inputs.

Warnings a job raises are recorded with its result and raised again in the calling process, so
serial and Dask runs treat them alike (and a test run, where warnings are errors, sees them).

A place-and-route run that does not finish within its bound (:func:`hw.flow.options.pnr_bound`:
at most ``opts.pnr_timeout``, 5x the median time of the seeds of the same netlist that finished
before it, at least 60 s) is stopped and replaced by the next seed, at most ``opts.pnr_seeds``
times per design; the stopped run stays in the results (``timed_out``), so the report lists it,
and a stuck run never fails the report.

Progress: the total number of jobs is known before the first one starts (a replacement seed adds
one); a bar on a terminal, a line every few percent otherwise.
"""

from __future__ import annotations

import logging
import re
import sys
import time
import uuid
import warnings
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from .jobs import Job, execute_job
from .options import FlowOptions, pnr_bound

__all__ = ["run_jobs", "check_scheduler_address", "local_cluster", "Progress", "Reseeder"]

_SIGNALLED = re.compile(r"^ToolError: \S+ failed \(exit -\d+\)")
_ADDRESS = re.compile(r"^(tcp|tls|inproc|ucx|ws|wss)://[^\s/]+$|^[A-Za-z0-9_.\-\[\]:]+:\d+$")


def check_scheduler_address(address: str) -> str:
    """Return ``address`` if it looks like a Dask scheduler address (``tcp://host:8786``).

    Raises
    ------
    ValueError
        Otherwise, naming the option.
    """
    if not isinstance(address, str) or not _ADDRESS.match(address):
        raise ValueError(f"--scheduler must be a Dask scheduler address such as "
                         f"tcp://HOST:8786, not {address!r}")
    return address


class Progress:
    """Counts finished jobs out of a total known up front; draws a bar or writes lines.

    Parameters
    ----------
    total : int
        Number of jobs.
    log : callable
        Where lines go (``print`` by default).
    bar : bool or None
        Draw a ``tqdm`` bar on standard error; None: only when it is a terminal.
    """

    def __init__(self, total: int, log=print, bar: bool | None = None):
        self.total, self.done, self.log = total, 0, log
        self.t0 = time.perf_counter()
        if bar is None:
            bar = sys.stderr.isatty()
        self._bar = None
        if bar:
            from tqdm import tqdm
            self._bar = tqdm(total=total, unit="job", desc="qsq report", file=sys.stderr,
                             dynamic_ncols=True)
        self._next_line = 0

    def add(self, n: int = 1) -> None:
        """``n`` more jobs (replacement seeds)."""
        self.total += n
        if self._bar is not None:
            self._bar.total = self.total
            self._bar.refresh()

    def update(self, job: Job, res: dict) -> None:
        self.done += 1
        err = res.get("error")
        if res.get("timed_out"):
            text = (f"{job.id} stopped after {res['bound']:.0f} s"
                    + (f", replaced by {res['replaced_by']}" if res.get("replaced_by") else
                       ", not replaced (no replacement seed left)"))
            if self._bar is not None:
                self._bar.update(1)
                self._bar.write(text)
            else:
                self.log(f"[{self.done:4d}/{self.total}] {text}")
            return
        if self._bar is not None:
            self._bar.set_postfix_str(job.id, refresh=False)
            self._bar.update(1)
            if err and not res.get("skipped"):
                self._bar.write(f"{job.id} FAILED {err.splitlines()[0]}")
            return
        if err and not res.get("skipped"):
            self.log(f"[{self.done:4d}/{self.total}] {job.id} FAILED {err.splitlines()[0]}")
        elif self.done >= self._next_line or self.done == self.total:
            el = time.perf_counter() - self.t0
            self.log(f"[{self.done:4d}/{self.total}] jobs done, elapsed {el:.0f} s "
                     f"(last: {job.id}, {'cached' if res.get('cached') else 'computed'})")
            self._next_line = self.done + max(1, self.total // 20)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def _execute(job: Job, cache_dir: str, work_dir: str, *inputs: dict) -> dict:
    """:func:`~hw.flow.jobs.execute_job` with the warnings it raises recorded in the result, so
    they reach the caller's process (and its warning filters) instead of a worker's stderr."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = execute_job(job, cache_dir, work_dir, *inputs)
        if _SIGNALLED.search(res.get("error", "")):
            # A tool killed by a signal (seen: SIGBUS while another process rewrote YoWASP's
            # compiled-module cache) is an accident of the machine, not of the design: once more.
            res = execute_job(job, cache_dir, work_dir, *inputs)
    if caught:
        res["warnings"] = [f"{w.category.__name__}: {w.message} ({w.filename}:{w.lineno})"
                           for w in caught]
    return res


class Reseeder:
    """Bounds of the place-and-route jobs and their replacement seeds.

    Parameters
    ----------
    jobs : list of Job
        The planned jobs; a design's replacement seeds follow its largest planned seed.
    """

    def __init__(self, jobs: list[Job]):
        self.next: dict[str, int] = {}
        self.spent: dict[str, int] = {}
        self.times: dict[str, list[float]] = {}
        for j in jobs:
            if j.step == "pnr":
                k = j.design.key
                self.next[k] = max(self.next.get(k, j.seed + 1), j.seed + 1)

    def bound(self, job: Job) -> float:
        """The bound of ``job`` from the seeds of its design finished so far."""
        return pnr_bound(self.times.get(job.design.key, ()), job.opts.pnr_timeout)

    def bounded(self, job: Job) -> Job:
        """``job`` with its bound set (a ``pnr`` job without one), else ``job``."""
        if job.step != "pnr" or job.timeout is not None:
            return job
        return replace(job, timeout=self.bound(job))

    def record(self, job: Job, res: dict) -> Job | None:
        """Note ``res`` of ``job``; the replacement job if it was a stopped ``pnr`` run."""
        if job.step != "pnr":
            return None
        k = job.design.key
        if not res.get("timed_out"):
            if "tool_seconds" in res:       # measured when it ran (kept in the cache too)
                self.times.setdefault(k, []).append(res["tool_seconds"])
            return None
        if self.spent.get(k, 0) >= job.opts.pnr_seeds:
            return None
        self.spent[k] = self.spent.get(k, 0) + 1
        new = Job("pnr", job.design, job.opts, self.next[k])
        self.next[k] += 1
        new = replace(new, timeout=self.bound(new))
        res["replaced_by"] = new.id
        return new


def _reraise_warnings(job: Job, res: dict) -> None:
    for text in res.get("warnings", ()):
        warnings.warn(f"{job.id}: {text}", RuntimeWarning, stacklevel=3)


def run_jobs(jobs: list[Job], opts: FlowOptions, cache_dir: Path, work_dir: Path,
             progress: Progress | None = None) -> dict[str, dict]:
    """Run ``jobs`` (each listed after the jobs it needs); return ``{job.id: result}``.

    ``opts.serial``: here, in order. Otherwise on Dask: ``opts.scheduler`` if given, else a
    ``LocalCluster`` of ``opts.jobs`` worker processes.

    A ``pnr`` job stopped at its bound is replaced by the next seed (:class:`Reseeder`); the
    replacement jobs are appended to ``jobs``, so the caller sees every job that ran. On Dask,
    the other seeds of a design start once its first seed has finished (so their bound is set by
    its time, not the cap).
    """
    cache_dir, work_dir = str(Path(cache_dir).resolve()), str(Path(work_dir).resolve())
    results: dict[str, dict] = {}
    reseed = Reseeder(jobs)
    if opts.serial:
        i = 0
        while i < len(jobs):
            job = jobs[i] = reseed.bounded(jobs[i])
            i += 1
            res = _execute(job, cache_dir, work_dir, *[results[n] for n in job.needs])
            _reraise_warnings(job, res)
            new = reseed.record(job, res)
            if new is not None:
                jobs.insert(i, new)
                if progress:
                    progress.add()
            results[job.id] = res
            if progress:
                progress.update(job, res)
        return results
    from distributed import as_completed

    run = uuid.uuid4().hex[:8]
    with dask_client(opts, Path(work_dir)) as client:
        futures, by_key = {}, {}
        # The first seed of a design goes with the rest; its other seeds wait for it, so their
        # bound is 5x its time rather than the cap.
        held: dict[str, list[int]] = {}
        firsts: set[str] = set()
        for k, job in enumerate(jobs):
            if job.step == "pnr" and job.design.key in firsts:
                held.setdefault(job.design.key, []).append(k)
                continue
            if job.step == "pnr":
                firsts.add(job.design.key)
            job = jobs[k] = reseed.bounded(job)
            key = f"qsq-{run}-{job.id}"
            futures[job.id] = client.submit(_execute, job, cache_dir, work_dir,
                                            *[futures[n] for n in job.needs],
                                            key=key, pure=False)
            by_key[key] = job
        pending = as_completed(list(futures.values()))

        def submit_now(job: Job) -> None:
            key = f"qsq-{run}-{job.id}"
            by_key[key] = job
            pending.add(client.submit(_execute, job, cache_dir, work_dir,
                                      *[results[n] for n in job.needs], key=key, pure=False))

        for fut in pending:
            job = by_key[fut.key]
            try:
                res = fut.result()
            except Exception as exc:  # a worker died (e.g. killed): the job has no result
                res = {"job": job.id, "error": f"{type(exc).__name__}: {exc}"}
            _reraise_warnings(job, res)
            new = reseed.record(job, res)
            results[job.id] = res
            if job.step == "pnr":    # its input (the ice40 result) is known by now
                for k in held.pop(job.design.key, ()):
                    jobs[k] = reseed.bounded(jobs[k])
                    submit_now(jobs[k])
            if new is not None:
                jobs.append(new)
                submit_now(new)
                if progress:
                    progress.add()
            if progress:
                progress.update(job, res)
            fut.release()
    return results


#: Where a ``LocalCluster``'s scheduler serves HTTP (its health and metrics routes): a free port
#: of this machine's loopback interface. Dask's default, ``:8787`` (also for
#: ``dashboard_address=None``, which leaves the HTTP server on its default port), warns and moves
#: to another port when 8787 is busy (another cluster, a Jupyter proxy), which a test run, where
#: warnings are errors, turns into a failure.
HTTP_ADDRESS = "127.0.0.1:0"


def local_cluster(n_workers: int, **kwargs):
    """A Dask ``LocalCluster`` of ``n_workers`` single-threaded worker processes, with no dashboard
    and its HTTP server on a free local port (:data:`HTTP_ADDRESS`); the one way the project
    makes a local cluster. ``kwargs`` go to ``LocalCluster``."""
    from distributed import LocalCluster

    return LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                        dashboard_address=HTTP_ADDRESS, scheduler_kwargs={"dashboard": False},
                        **kwargs)


@contextmanager
def dask_client(opts: FlowOptions, work_dir: Path):
    """A Dask client: connected to ``opts.scheduler``, or to a new ``LocalCluster``.

    Raises
    ------
    OSError
        If the scheduler cannot be reached.
    """
    from distributed import Client

    if opts.scheduler:
        try:
            client = Client(check_scheduler_address(opts.scheduler), timeout="20s")
        except OSError as exc:
            raise OSError(f"cannot reach the Dask scheduler at {opts.scheduler}: {exc}") from None
        try:
            yield client
        finally:
            client.close()
        return
    scratch = Path(work_dir) / "dask"
    scratch.mkdir(parents=True, exist_ok=True)
    with local_cluster(opts.jobs, local_directory=str(scratch),
                       silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
        yield client
