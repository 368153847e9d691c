"""The Ray actor of a :class:`~roadseg.batch.ray_pool.RayPool`, on whichever node Ray placed it.

Ray's workers import the class from this module (``roadseg.batch.ray_worker.RayWorker``), so every node
runs the same roadseg; Ray titles its process ``ray::RayWorker``.

Example (inside a Ray cluster, as the pool starts one):
    >>> actor = ray.remote(RayWorker).options(num_cpus=1).remote(SegmentOptions(""), ())  # doctest: +SKIP
"""

from __future__ import annotations

import os

from roadseg.batch.errors import BatchError
from roadseg.batch.task import Task, Worker
from roadseg.pipeline.options import SegmentOptions


class RayWorker:
    """The actor: a :class:`~roadseg.batch.task.Worker` on whichever node Ray placed it."""

    def __init__(self, options: SegmentOptions, sees: tuple[str, ...] = ()) -> None:
        import ray

        ip = ray.util.get_node_ip_address()
        for folder in sees:  # (a node without the shared mount would fail every video it took, fastest of all)
            if not os.path.isdir(folder):
                raise BatchError(f"node {ip} does not see {folder}: inputs, outputs and --model must be on storage "
                                 "every node sees under the same path")  # fmt: skip
        self.worker = Worker(options, node=ray.get_runtime_context().get_node_id())
        self.worker.info["ip"] = ip

    def info(self) -> dict:
        return self.worker.info

    def run(self, task: Task) -> dict:
        return self.worker.run(task)
