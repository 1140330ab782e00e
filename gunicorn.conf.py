"""gunicorn settings; each can be overridden with GUNICORN_CMD_ARGS or the command line."""

from typing import Any

from gunicorn.glogging import Logger

from service.config import clear_metrics_dir, load_config, use_metrics_dir
from service.cpu import gunicorn_workers, usable_cpus
from service.logs import protect
from service.startup import preflight, refusal_exits

# Before any worker loads the app: prometheus-client reads this folder's name when first
# imported, and each worker then keeps its counts in a file there.
metrics_dir = use_metrics_dir()
with refusal_exits():  # a bad setting stops gunicorn here with one line
    settings = load_config()

bind = settings["PSAM_BIND"]
# Requests wait on the database more than on the CPU, so more workers than CPUs pays off;
# the CPUs are those this process may use (its cgroup quota), not the host's cores.
workers = gunicorn_workers(settings["WEB_CONCURRENCY"], usable_cpus())
# Threads: while one request waits on PostgreSQL another uses the CPU, and a client's
# connection stays open between its requests (docs/performance.md, "Worker class"). Each
# request has its own SQLAlchemy session; each thread takes its own pooled connection.
worker_class = "gthread"
threads = 4
# A worker that stops answering its master this long is restarted. With threads the master
# hears from the worker's main loop, so this does not bound one request's time.
timeout = 60
graceful_timeout = 30
keepalive = 5
max_requests = 2000  # recycle workers now and then so no slow leak can build up
max_requests_jitter = 200
limit_request_line = 8190
accesslog = "-"
errorlog = "-"
# JSON lines like the application's logs; the path without its query string, no headers.
access_log_format = (
    '{"time":"%(t)s","remote":"%(h)s","method":"%(m)s","path":"%(U)s","status":%(s)s,'
    '"bytes":"%(B)s","duration_us":%(D)s,"request_id":"%({x-request-id}o)s"}'
)
forwarded_allow_ips = "127.0.0.1"


def on_starting(server: Any) -> None:
    """In the master, before any worker forks: refuse to start without a usable keyring,
    and start this run's metrics from zero."""
    with refusal_exits():
        preflight()
    clear_metrics_dir(metrics_dir)


def child_exit(server: Any, worker: Any) -> None:
    """A worker has exited: its live gauges go with it (its counters stay in the totals)."""
    from service.metrics import worker_exited

    worker_exited(worker.pid)


class RedactingLogger(Logger):
    """gunicorn's logger, with anything shaped like a token blanked in the error and access
    logs: gunicorn logs a malformed request line or header as it came, token and all."""

    def setup(self, cfg):  # type: ignore[no-untyped-def]
        super().setup(cfg)
        protect([self.error_log, self.access_log])


logger_class = RedactingLogger
