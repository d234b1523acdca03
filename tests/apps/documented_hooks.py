# The hook examples of docs/operations.md ("Server hooks"), verbatim: a test runs them.
import os

from prometheus_client import multiprocess


def child_exit(server, worker):
    # the worker's live gauges leave the scrape with it; its counters stay summed in
    multiprocess.mark_process_dead(worker.pid)


def on_starting(server):
    # a fresh start begins with an empty directory (never while workers run: not on reload)
    directory = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    for name in os.listdir(directory):
        os.unlink(os.path.join(directory, name))
