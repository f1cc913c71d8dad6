"""DaskTaskRunner: task functions run on a Dask cluster (Prefect's prefect_dask signature).

The state machines stay in the flow's process, driven on one loop thread (see
loop_runner) that also runs the Dask client in asynchronous mode, so a pending call costs
a coroutine and a Dask future, never a thread. ``distributed`` is imported only when the
first task run is submitted; the cluster (or the connection to ``address``) starts then,
while the flow goes on, and closes when the flow run ends.
"""

from __future__ import annotations

import asyncio
import importlib
from typing import Any

from orchestrate_nb.engine.calls import Outcome
from orchestrate_nb.engine.driver import Call
from orchestrate_nb.engine.loop_runner import LoopDrivenTaskRunner
from orchestrate_nb.engine.remote_calls import (
    CallPickler,
    RemoteRun,
    RemoteTaskError,
    outcome_in_parent,
    run_pickled_call,
)
from orchestrate_nb.engine.task_runners import SubmittedRun

DEFAULT_CLUSTER_CLASS = "distributed.LocalCluster"
# How long finished calls wait for others to share their gather when more are running:
# one gather per finished call would cost more than the calls themselves.
_BATCH_WINDOW_S = 0.005


class DaskTaskRunner(LoopDrivenTaskRunner):
    """Runs task functions on a Dask cluster (``prefect_dask.DaskTaskRunner``'s arguments).

    With ``address`` or ``cluster`` (a running cluster object), connects to that cluster
    and leaves it running; otherwise starts
    ``cluster_class(**cluster_kwargs)`` (a ``distributed.LocalCluster`` by default: worker
    processes, as many as Dask picks for this machine) for the flow run, adapting it with
    ``adapt_kwargs`` if given. ``client_kwargs`` go to ``distributed.Client``. Workers
    need orchestrate_nb installed; task functions travel by value with cloudpickle.
    """

    thread_name = "orchestrate-nb-dask-runner"

    def __init__(self, cluster: Any = None, address: str | None = None,
                 cluster_class: Any = None, cluster_kwargs: dict[str, Any] | None = None,
                 adapt_kwargs: dict[str, Any] | None = None,
                 client_kwargs: dict[str, Any] | None = None) -> None:
        if (cluster is not None or address) and (cluster_class or cluster_kwargs or adapt_kwargs):
            raise ValueError("DaskTaskRunner: pass either a running cluster (address or "
                             "cluster) or one to start (cluster_class, cluster_kwargs, "
                             "adapt_kwargs), not both")
        if cluster is not None and address:
            raise ValueError("DaskTaskRunner: pass address or cluster, not both")
        super().__init__()
        self._pickler = CallPickler()
        self.cluster = cluster
        self.address = address
        self.cluster_class = cluster_class
        self.cluster_kwargs = dict(cluster_kwargs or {})
        self.adapt_kwargs = dict(adapt_kwargs or {})
        self.client_kwargs = dict(client_kwargs or {})
        self._connecting: asyncio.Future[Any] | None = None
        self._cluster: Any = None
        self._fetcher: _OutcomeFetcher | None = None

    # -- connecting (on the runner's loop) -----------------------------------------------
    async def _connected(self) -> _OutcomeFetcher:
        if self._connecting is None:
            self._connecting = asyncio.ensure_future(self._connect())
        client = await asyncio.shield(self._connecting)
        if self._fetcher is None:
            self._fetcher = _OutcomeFetcher(client)
        return self._fetcher

    async def _connect(self) -> Any:
        from distributed import Client

        client_kwargs = {"set_as_default": False, **self.client_kwargs, "asynchronous": True}
        address = self.address or getattr(self.cluster, "scheduler_address", None)
        if address:
            return await Client(address, **client_kwargs)
        cluster_class = _resolve_class(self.cluster_class or DEFAULT_CLUSTER_CLASS)
        self._cluster = cluster_class(**{**_local_only(cluster_class), **self.cluster_kwargs,
                                         "asynchronous": True})
        await self._cluster  # starts it; _close closes it even if this fails
        if self.adapt_kwargs:
            self._cluster.adapt(**self.adapt_kwargs)
        return await Client(self._cluster, **client_kwargs)

    # -- calls ---------------------------------------------------------------------------
    async def _call(self, run: SubmittedRun, call: Call) -> Outcome:
        try:
            fetcher = await self._connected()
        except Exception as exc:  # the cluster could not start or be reached
            return False, exc
        tr = run.task_run
        try:
            payload = self._pickler.dumps(call, RemoteRun.of(tr, run.log_prints), call.timeout)
        except RemoteTaskError as exc:
            return False, exc
        future = fetcher.client.submit(run_pickled_call, payload, pure=False,
                                       key=f"{tr.name}-{tr.id}-{tr.run_count}")
        try:
            remote = await asyncio.wait_for(fetcher.outcome(future), call.timeout)
        except asyncio.TimeoutError:
            await _cancel(fetcher.client, future)
            return False, call.timeout_exc()
        except asyncio.CancelledError:
            await asyncio.shield(_cancel(fetcher.client, future))
            raise
        except Exception as exc:  # the call did not run to its end (a lost worker...)
            return False, exc
        return outcome_in_parent(remote, call)

    async def _close(self, wait: bool) -> None:
        connecting, self._connecting, self._fetcher = self._connecting, None, None
        if connecting is not None:
            # a cluster still starting is waited for (Dask cannot stop its start cleanly)
            await asyncio.wait([connecting])
            if connecting.exception() is None:
                await connecting.result().close()
        cluster, self._cluster = self._cluster, None
        if cluster is not None:
            await cluster.close()

    def duplicate(self) -> DaskTaskRunner:
        return type(self)(self.cluster, self.address, self.cluster_class, self.cluster_kwargs,
                          self.adapt_kwargs, self.client_kwargs)

    def __repr__(self) -> str:
        if self.cluster is not None:
            return f"DaskTaskRunner(cluster={self.cluster!r})"
        if self.address:
            return f"DaskTaskRunner(address={self.address!r})"
        return f"DaskTaskRunner(cluster_class={self.cluster_class or DEFAULT_CLUSTER_CLASS!r})"


class _OutcomeFetcher:
    """Fetches finished calls' outcomes in batches: one gather for every call that finished
    meanwhile, where awaiting each Dask future would cost one round trip per task run."""

    def __init__(self, client: Any) -> None:
        from distributed import as_completed

        self.client = client
        self._finished = as_completed(loop=client.loop)
        self._slots: dict[Any, asyncio.Future[Any]] = {}
        self._consumer: asyncio.Task[None] | None = None
        self._fetching_one: set[asyncio.Task[None]] = set()

    async def outcome(self, future: Any) -> Any:
        """The value of ``future`` (it raises if the call did not run to its end)."""
        slot = asyncio.get_running_loop().create_future()
        self._slots[future] = slot
        self._finished.add(future)
        if self._consumer is None or self._consumer.done():
            self._consumer = asyncio.ensure_future(self._consume())
        return await slot

    async def _consume(self) -> None:
        async for first in self._finished:
            if len(self._slots) > 1:  # more calls are on their way: let a batch build up
                await asyncio.sleep(_BATCH_WINDOW_S)
            await self._deliver([first, *self._finished.next_batch(block=False)])

    async def _deliver(self, batch: list[Any]) -> None:
        slots = [(f, self._slots.pop(f, None)) for f in batch]
        wanted = [(f, s) for f, s in slots if s is not None and not s.done()]
        finished = [f for f, _ in wanted if f.status == "finished"]
        try:
            values = dict(zip(finished, await self.client.gather(finished)))
        except Exception:  # noqa: BLE001 - a holder died meanwhile: fetch one by one
            values = {}
        for future, slot in wanted:
            if future in values:
                slot.set_result(values[future])
            else:
                task = asyncio.ensure_future(_deliver_one(future, slot))
                self._fetching_one.add(task)
                task.add_done_callback(self._fetching_one.discard)


async def _deliver_one(future: Any, slot: asyncio.Future[Any]) -> None:
    try:
        value = await future
    except BaseException as exc:  # noqa: BLE001 - handed to the waiting call
        if not slot.done():
            slot.set_exception(exc)
        return
    if not slot.done():
        slot.set_result(value)


async def _cancel(client: Any, future: Any) -> None:
    """Best effort: a queued call is dropped; a running one is interrupted by the worker's
    own copy of the timeout (Python code only), since Dask cannot stop a running task."""
    try:
        await client.cancel([future])
    except Exception:  # noqa: BLE001 - the cluster may be gone; the run is over anyway
        return


def _local_only(cluster_class: Any) -> dict[str, Any]:
    """A LocalCluster serves its dashboard on every interface (``0.0.0.0:8787``) unless
    told otherwise: it shows task code, arguments and logs, so only this machine may see
    it (``cluster_kwargs={"dashboard_address": ...}`` still chooses)."""
    from distributed import LocalCluster

    if isinstance(cluster_class, type) and issubclass(cluster_class, LocalCluster):
        return {"dashboard_address": "127.0.0.1:8787"}
    return {}


def _resolve_class(cluster_class: Any) -> Any:
    """A class, or its import path ("distributed.LocalCluster"), or a callable."""
    if isinstance(cluster_class, str):
        module_name, _, name = cluster_class.rpartition(".")
        return getattr(importlib.import_module(module_name), name)
    return cluster_class
