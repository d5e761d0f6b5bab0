"""Logging for the served app: the service's own loggers, on standard error, off the loop."""

import atexit
import logging
import queue
from logging.handlers import QueueHandler, QueueListener

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"

_listener: QueueListener | None = None


class _DeferredQueueHandler(QueueHandler):
    """Hands the record to the listener thread as it is.

    `QueueHandler` formats each record before queueing it, so that it could cross to
    another process; here it only crosses to a thread, which formats it there.
    """

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        return record


def configure_logging(level: str = "INFO") -> None:
    """Send `contacts_api.*` records (one access line a request, warnings) to stderr.

    The request's code only puts each record on a queue; a thread of the logging
    module formats it and writes it, so a slow terminal or a full pipe never stalls
    the event loop. uvicorn configures only its own loggers; without this our records
    would reach Python's last-resort handler, which drops everything below WARNING.
    """
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    stderr = logging.StreamHandler()
    stderr.setFormatter(logging.Formatter(LOG_FORMAT))
    global _listener
    if _listener is not None:
        _listener.stop()
    _listener = QueueListener(records, stderr)
    _listener.start()
    atexit.register(flush_logs)

    service = logging.getLogger("contacts_api")
    service.handlers = [_DeferredQueueHandler(records)]
    service.setLevel(level)
    service.propagate = False


def flush_logs() -> None:
    """Write out every record queued so far; the app calls it as it shuts down.

    uvicorn ends its process by re-raising SIGTERM once the app has shut down, and a
    process ended by a signal runs no `atexit` handler: records still queued then
    would be lost. Stopping the listener drains the queue; starting it again keeps
    later records flowing.
    """
    if _listener is not None:
        _listener.stop()
        _listener.start()
