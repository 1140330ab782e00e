"""gunicorn settings; each can be overridden with GUNICORN_CMD_ARGS or the command line."""

import multiprocessing

from gunicorn.glogging import Logger

from service.logs import protect

bind = "127.0.0.1:8000"
# Requests wait on the database more than on the CPU, so more workers than cores pays off.
workers = multiprocessing.cpu_count() * 2 + 1
worker_class = "sync"
timeout = 60  # a streamed export keeps a worker busy; its rows keep it alive
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


class RedactingLogger(Logger):
    """gunicorn's logger, with anything shaped like a token blanked in the error and access
    logs: gunicorn logs a malformed request line or header as it came, token and all."""

    def setup(self, cfg):  # type: ignore[no-untyped-def]
        super().setup(cfg)
        protect([self.error_log, self.access_log])


logger_class = RedactingLogger
