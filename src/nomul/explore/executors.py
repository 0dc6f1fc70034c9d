# SPDX-License-Identifier: MIT
"""Where sweep tasks run: a local process pool (default) or a Dask cluster.

Both take a function and a list of tasks and yield ``(index, result, error)`` as tasks finish,
in any order; ``error`` is the one-line text of what a task raised (the task is tried
:data:`RETRIES` more times first). A worker process that dies (killed, out of memory) takes
its running tasks with it: the local pool is restarted and those tasks retried; Dask retries
them on another worker itself. Finished results are yielded at once, so the caller can store
them before anything else can fail.
"""

from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool

from ..errors import OptionsError

__all__ = ["EXECUTORS", "run_tasks", "RETRIES"]

EXECUTORS = ("local", "dask")
RETRIES = 1


def _error(exc):
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def run_tasks(function, tasks, *, executor="local", jobs=1, scheduler=None):
    """Run ``function(task)`` for every task; yields ``(index, result, error)``."""
    if executor == "local":
        if scheduler is not None:
            raise OptionsError("--scheduler is for --executor dask")
        yield from _local(function, tasks, jobs)
    elif executor == "dask":
        yield from _dask(function, tasks, jobs, scheduler)
    else:
        raise OptionsError(f"unknown executor {executor!r}; choose from {', '.join(EXECUTORS)}")


def _local(function, tasks, jobs):
    """A process pool; after a worker dies, the tasks left are retried each in a pool of its
    own, so a task that kills its worker cannot take the others down again."""
    attempts = dict.fromkeys(range(len(tasks)), 0)
    pending, isolated = list(range(len(tasks))), False
    while pending:
        retry, broke = [], False
        for group in ([[index] for index in pending] if isolated else [pending]):
            with ProcessPoolExecutor(max_workers=1 if isolated else max(1, jobs)) as pool:
                futures = {pool.submit(function, tasks[index]): index for index in group}
                for future in as_completed(futures):
                    index = futures[future]
                    try:
                        result = future.result()
                    except BrokenProcessPool:
                        broke, error = True, "BrokenProcessPool: the worker process died"
                    except Exception as exc:       # the task itself raised
                        error = _error(exc)
                    else:
                        yield index, result, None
                        continue
                    attempts[index] += 1
                    if attempts[index] > RETRIES:
                        yield index, None, error
                    else:
                        retry.append(index)
        pending, isolated = sorted(retry), isolated or broke


def _dask(function, tasks, jobs, scheduler):
    try:
        from distributed import Client, LocalCluster
        from distributed import as_completed as dask_completed
    except ImportError:
        raise OptionsError("--executor dask needs dask.distributed: pip install "
                           "'nomul[dask]'") from None
    cluster = None
    if scheduler is None:
        cluster = LocalCluster(n_workers=max(1, jobs), threads_per_worker=1, processes=True,
                               dashboard_address=None)
        client = Client(cluster)
    else:
        try:
            client = Client(scheduler, timeout="10s")
        except OSError as exc:
            raise OptionsError(f"--scheduler {scheduler}: cannot connect ({_error(exc)})") \
                from None
    try:
        futures = {client.submit(function, task, retries=RETRIES, pure=False): index
                   for index, task in enumerate(tasks)}
        for future in dask_completed(list(futures)):
            index = futures[future]
            try:
                result = future.result()
            except Exception as exc:
                yield index, None, _error(exc)
                continue
            yield index, result, None
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
