"""The job runner of the sweeps: many independent jobs, run here, in local processes or on Dask.

A sweep (the quantization study's widths and modes, the pruning study's
methods and amounts, cross-validation's folds) is a list of :class:`Job`\\ s.
Each job is ``function(*args)``: a module-level function (so another process
can import it) and plain-data arguments, and it carries its own seed in those
arguments. No job reads another's result or any state a previous job left
behind, so every runner gives the same results in any order:

- :class:`SerialRunner` runs them one after another in this process (``--jobs 1``);
- :class:`ProcessRunner` runs them in ``N`` local worker processes (``--jobs N``);
- :class:`DaskRunner` sends them to a running Dask distributed scheduler
  (``--scheduler ADDRESS``), whose workers may be on other machines.

:func:`run_jobs` hands every result back to the sweep *in this process*, in
the order the jobs finish, and the sweep writes it (atomically) before the
next one arrives. So the process holding the output folder's lock
(:mod:`tinykws.lock`) is the only writer of the results files, and a sweep
killed at any moment keeps every finished job: rerun, it submits only the
missing ones.

Threads. Every job computes with one BLAS and one Numba thread, whatever
runs it (:func:`one_thread`): the BLAS's sums, split between threads, round
differently with another thread count, and ``N`` worker processes each
running the default of one thread per core would put ``N`` times as many
threads as cores on the machine. Local workers also start with
``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``, ``MKL_NUM_THREADS`` and
``NUMBA_NUM_THREADS`` set to 1, so they never start the extra threads at all.

A worker process that dies in the middle of a job (killed, out of memory, a
crash in native code) breaks the local pool; the unfinished jobs are run once
more in a fresh pool, and if a worker dies again, the sweep stops with a
one-line error naming the jobs still unfinished. Dask's scheduler
does its own retrying (``distributed.scheduler.allowed-failures``) and then
reports the job as having killed its workers; that is the same error.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from dataclasses import dataclass, field
from typing import Callable, Iterator, Sequence

from tinykws.errors import TinyKWSError

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")
CONNECT_TIMEOUT_S = 5  # how long to wait for a Dask scheduler before calling its address unreachable


@dataclass(frozen=True, eq=False)  # two jobs are the same job only if they are one object
class Job:
    """One independent unit of a sweep: ``function(*args)``, stored by the sweep under ``key``.

    ``key`` is the entry's path in the sweep's results, e.g. ``("qat", "4")``
    for ``result["qat"]["4"]``. ``function`` must be defined at module level
    and ``args`` must pickle, so that a worker process (or machine) can run it.
    """

    key: tuple[str, ...]
    function: Callable
    args: tuple = field(default=())

    @property
    def name(self) -> str:
        return " ".join(self.key)

    def run(self):
        """``function(*args)`` computed with one thread (see :func:`one_thread`)."""
        with one_thread():
            return self.function(*self.args)


@contextlib.contextmanager
def one_thread():
    """BLAS and Numba limited to one thread for the ``with`` block, whatever the process had.

    The same job must give the same numbers on every runner, and OpenBLAS's
    results change in the last bits with its thread count (it splits a
    product's sums between threads differently). So every job computes with
    one thread: in a worker, where more threads would only fight the other
    workers for the cores, and here too when the jobs run serially.
    """
    import numba
    from threadpoolctl import threadpool_limits

    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        with threadpool_limits(limits=1):
            yield
    finally:
        numba.set_num_threads(before)


def stored(result: dict, key: tuple[str, ...]) -> bool:
    """Whether ``result`` holds the entry a job key names: ``("qat", "4")`` is ``result["qat"]["4"]``."""
    *path, name = key
    for part in path:
        result = result.get(part, {})
    return name in result


def store(result: dict, key: tuple[str, ...], value) -> None:
    """Put a job's entry where its key names it in ``result``, creating sections as needed."""
    *path, name = key
    for part in path:
        result = result.setdefault(part, {})
    result[name] = value


def in_job_order(result: dict, keys: Sequence[tuple[str, ...]]) -> None:
    """Reorder the entries ``keys`` name, section by section, into the order of ``keys``.

    Jobs finish in an order that depends on the runner; the results file
    lists them in the order of the sweep, whoever ran them.
    """
    sections: dict[int, tuple[dict, list[str]]] = {}
    for key in keys:
        *path, name = key
        section = result
        for part in path:
            section = section.setdefault(part, {})
        sections.setdefault(id(section), (section, []))[1].append(name)
    for section, names in sections.values():
        rest = {k: v for k, v in section.items() if k not in names}
        ordered = {k: section[k] for k in names if k in section}
        section.clear()
        section.update(ordered)
        section.update(rest)


def save_outcome(result: dict, results_file, order: Sequence[tuple[str, ...]], job: Job, outcome) -> None:
    """Keep a finished job of a study: ``outcome`` is ``(entry, {file name: bytes})``.

    Its files are written beside ``results_file``, its entry is stored under
    its key (entries in the order of the keys ``order``) and ``results_file``
    is rewritten, each atomically, so that the results file never names a
    file that is not there.
    """
    from pathlib import Path

    from tinykws.atomic import write_bytes, write_json

    entry, files = outcome
    for name, blob in files.items():
        write_bytes(Path(results_file).parent / name, blob)
    store(result, job.key, entry)
    in_job_order(result, order)
    write_json(results_file, result)


class SerialRunner:
    """Every job in this process, one after another, in the given order."""

    workers = 1

    def results(self, jobs: Sequence[Job]) -> Iterator[tuple[Job, object]]:
        for job in jobs:
            yield job, job.run()

    def close(self) -> None:
        pass


def _single_threaded_worker() -> None:
    """Start-up of a local worker process: one compute thread, Ctrl-C left to the parent, and
    SIGTERM (the parent stopping the pool) ending a job cleanly (:func:`_run_in_worker`)."""
    for var in THREAD_VARIABLES:  # read when NumPy's BLAS and Numba load, i.e. by the first job
        os.environ[var] = "1"
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _stopped_by_parent)
    from tqdm import tqdm

    # tqdm's default lock holds a process-shared semaphore, which a worker stopped by os._exit
    # would leak (a warning at exit); a worker shows no bars, so a thread lock does.
    tqdm.set_lock(threading.RLock())


_in_job = False  # in a local worker: whether a job is running
_stopping = False  # and whether the parent asked it to stop


def _run_in_worker(job: Job):
    global _in_job
    _in_job = True
    try:
        return job.run()
    finally:
        _in_job = False
        if _stopping:  # unwound by _stopped_by_parent: the job's temporary files are removed
            os._exit(128 + signal.SIGTERM)


def _stopped_by_parent(signum: int, frame) -> None:
    """A worker's SIGTERM: unwind the job, so that an atomic write in flight removes its
    temporary file, then exit; an idle worker exits at once."""
    global _stopping
    _stopping = True
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # one clean stop
    if not _in_job:
        os._exit(128 + signum)
    raise KeyboardInterrupt(f"stopped by signal {signum}")


class ProcessRunner:
    """The jobs in up to ``workers`` local processes, started fresh (``spawn``).

    ``spawn`` rather than ``fork``: a forked child would inherit the parent's
    Numba and BLAS thread pools in whatever state they were, and the open
    descriptor of the folder lock; a spawned one starts clean and imports
    what its jobs need.
    """

    def __init__(self, workers: int):
        self.workers = workers

    def results(self, jobs: Sequence[Job]) -> Iterator[tuple[Job, object]]:
        unfinished = yield from self._pool_results(jobs)
        if unfinished:  # a worker died: once more, in a fresh pool
            unfinished = yield from self._pool_results(unfinished)
        if unfinished:
            raise TinyKWSError(
                f"a worker process died twice, with {len(unfinished)} job(s) unfinished "
                f"({', '.join(j.name for j in unfinished)}); the finished ones are saved: rerun the "
                "same command to continue (with --jobs 1 a failing job shows its error)")

    def _pool_results(self, jobs: Sequence[Job]):
        """Yield ``(job, result)`` from one pool; return the jobs left unfinished if a worker died."""
        import multiprocessing
        from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
        from concurrent.futures.process import BrokenProcessPool

        pool = ProcessPoolExecutor(min(self.workers, len(jobs)), multiprocessing.get_context("spawn"),
                                   initializer=_single_threaded_worker)
        futures, unfinished = {}, []
        try:
            with _starting_workers():  # submit starts the workers, one per job up to their number
                futures.update({pool.submit(_run_in_worker, job): job for job in jobs})
            left = set(futures)
            while left:
                done, left = wait(left, return_when=FIRST_COMPLETED)
                for future in done:
                    try:
                        result = future.result()
                    except BrokenProcessPool:  # every job not finished yet fails with it
                        unfinished.append(futures[future])
                        continue
                    yield futures[future], result
        except BaseException:  # an error in a job, Ctrl-C, SIGTERM: stop every worker now
            _stop_workers(pool)
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        return [job for job in jobs if job in unfinished]  # in job order

    def close(self) -> None:
        pass


@contextlib.contextmanager
def _starting_workers():
    """No signal may cut a worker's start short: SIGINT ignored, SIGTERM taken after the block.

    A worker interrupted while it reads its start-up data from the parent
    prints a traceback of its own, after this process's one line. Started
    while SIGINT is ignored, the workers ignore it too from their first
    instruction on: Ctrl-C in a terminal reaches the whole process group, and
    it is this process that stops the pool. (A Ctrl-C in these few
    milliseconds is lost; the next one counts.)
    """
    if threading.current_thread() is not threading.main_thread():  # only it can set handlers
        yield
        return
    held = []
    previous_int = signal.signal(signal.SIGINT, signal.SIG_IGN)
    previous_term = signal.signal(signal.SIGTERM, lambda signum, frame: held.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous_int)
        signal.signal(signal.SIGTERM, previous_term)
        if held:
            os.kill(os.getpid(), signal.SIGTERM)  # now its own handler takes it


def _stop_workers(pool, grace_s: float = 30.0) -> None:
    """Stop a pool's workers: SIGTERM, a moment to unwind their jobs, then SIGKILL.

    (``ProcessPoolExecutor`` has no public way to do this before Python 3.14.)
    """
    processes = [p for p in (getattr(pool, "_processes", None) or {}).values() if p.is_alive()]
    for process in processes:
        process.terminate()
    for process in processes:
        process.join(grace_s)
        if process.is_alive():
            process.kill()


class DaskRunner:
    """The jobs on a running Dask distributed scheduler at ``address`` (``tcp://host:8786``).

    The workers must be able to import tinykws and see the run, data and
    output folders at the same paths as this process (a shared file system).
    Start them with one thread each: ``OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1
    dask worker ADDRESS --nthreads 1``.
    """

    def __init__(self, address: str, timeout: float = CONNECT_TIMEOUT_S):
        try:
            from distributed import Client
        except ImportError:
            raise TinyKWSError("--scheduler needs Dask: pip install -e \".[dask]\"") from None
        from distributed.comm.addressing import parse_address, parse_host_port

        try:  # before the client exists: one half made by a bad address hangs when collected
            parse_host_port(parse_address(address)[1])
        except ValueError as exc:
            raise TinyKWSError(f"{address!r} is not a Dask scheduler address, e.g. tcp://host:8786 "
                               f"({exc})") from None
        try:
            self.client = Client(address, timeout=timeout, set_as_default=False)
        except (OSError, TimeoutError, ValueError, TypeError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise TinyKWSError(f"cannot reach the Dask scheduler at {address} within {timeout:g} s "
                               f"({reason})") from None
        self.workers = max(1, sum(w.get("nthreads", 1) for w in
                                  self.client.scheduler_info().get("workers", {}).values()))

    def results(self, jobs: Sequence[Job]) -> Iterator[tuple[Job, object]]:
        from distributed import KilledWorker, as_completed

        futures = {self.client.submit(Job.run, job, pure=False, key=f"tinykws-{job.name}-{i}-"
                                      f"{os.getpid()}-{id(job)}"): job for i, job in enumerate(jobs)}
        try:
            for future in as_completed(futures, loop=self.client.loop):
                try:
                    result = future.result()
                except KilledWorker:
                    raise TinyKWSError(f"the Dask workers running {futures[future].name} died; the finished "
                                       "jobs are saved: rerun the same command to continue") from None
                yield futures[future], result
        finally:
            self.client.cancel(list(futures))

    def close(self) -> None:
        self.client.close()


def make_runner(jobs: int | None = None, scheduler: str | None = None):
    """The runner ``--jobs`` and ``--scheduler`` ask for (``jobs`` None: one process per core)."""
    if scheduler is not None:
        return DaskRunner(scheduler)
    if jobs is None:
        jobs = os.cpu_count() or 1
    if jobs < 1:
        raise TinyKWSError(f"--jobs must be at least 1, not {jobs}")
    return SerialRunner() if jobs == 1 else ProcessRunner(jobs)


def run_jobs(jobs: Sequence[Job], done: Callable[[Job, object], None], runner=None, *,
             progress: bool = True, desc: str = "jobs") -> None:
    """Run ``jobs`` on ``runner`` (default: serially) and call ``done(job, result)`` for each, here.

    ``done`` is called in the order the jobs finish, which differs between
    runners: a sweep that writes its results as they come keeps them in job
    order itself. A single job runs in this process whatever the runner.
    """
    from tqdm import tqdm

    if runner is None or len(jobs) <= 1:
        runner = SerialRunner()
    with tqdm(total=len(jobs), desc=desc, unit="job", disable=not progress or not jobs) as bar:
        with contextlib.closing(runner.results(jobs)) as results:  # closing it stops the workers
            for job, result in results:
                done(job, result)
                bar.update()
