"""Logging for the served app: the service's own loggers, on standard error."""

import logging.config

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def configure_logging(level: str = "INFO") -> None:
    """Send `contacts_api.*` records (one access line a request, warnings) to stderr.

    uvicorn configures only its own loggers; without this our records would reach
    Python's last-resort handler, which drops everything below WARNING.
    """
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {"plain": {"format": LOG_FORMAT}},
            "handlers": {
                "stderr": {"class": "logging.StreamHandler", "formatter": "plain"},
            },
            "loggers": {
                "contacts_api": {"handlers": ["stderr"], "level": level, "propagate": False},
            },
        }
    )
