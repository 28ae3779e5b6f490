"""The one named logger, ``handmap``, to stderr."""

from __future__ import annotations

import logging
import os
import sys

LOGGER = "handmap"
#: Between INFO and WARNING: what the user wants to see at the default level without it
#: being a problem (a hot reload that worked). Shown as ``handmap: note: ...``.
NOTICE = 25
logging.addLevelName(NOTICE, "note")


def setup_logging(verbosity: int = 0) -> logging.Logger:
    """Configure the ``handmap`` logger once, from the entry point."""
    level = (NOTICE, logging.INFO, logging.DEBUG)[min(max(verbosity, 0), 2)]
    logger = logging.getLogger(LOGGER)
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("handmap: %(levelname)s: %(message)s"))
        logger.addHandler(handler)
        logger.propagate = False
    logger.setLevel(max(level, logging.DEBUG))
    return logger


def quiet_mediapipe() -> None:
    """Keep MediaPipe's and TensorFlow Lite's C++ start-up chatter off the user's terminal.

    Must run before mediapipe is imported; users can still set the variables themselves.
    """
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def divert_native_stderr() -> None:
    """Send what C++ libraries write to file descriptor 2 (MediaPipe's and TensorFlow
    Lite's INFO/WARNING lines, which ignore the variables above) to /dev/null, while
    Python's ``sys.stderr`` (handmap's own messages, tracebacks) keeps the real stderr.

    Called once by the entry point; ``-vv`` leaves native output alone for debugging.
    """
    try:
        sys.stderr.flush()
        real = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
        sys.stderr = os.fdopen(real, "w", buffering=1, encoding=sys.stderr.encoding or "utf-8", errors="backslashreplace")
        for handler in logging.getLogger(LOGGER).handlers:
            if isinstance(handler, logging.StreamHandler):
                handler.setStream(sys.stderr)
    except OSError:
        pass
