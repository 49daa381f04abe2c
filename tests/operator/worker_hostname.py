"""Airflow's `[core] hostname_callable` for Celery workers sharing one machine.

Every task instance records the hostname of the worker that ran it. Two workers on one host
would record the same name, so celery_cluster.py gives each its own in WORKER_HOSTNAME and
points hostname_callable here: the task instances then tell which worker ran them.
"""

from __future__ import annotations

import os

VARIABLE = "WORKER_HOSTNAME"


def hostname() -> str:
    """The worker's name from WORKER_HOSTNAME (a KeyError naming it when unset)."""
    try:
        return os.environ[VARIABLE]
    except KeyError:
        raise KeyError(f"{VARIABLE} is not set: start the worker with its own name") from None
