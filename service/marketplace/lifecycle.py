"""The end of the serving process: the spans still queued are exported, then every log line
still queued is written, whichever server runs the app.

gunicorn's worker leaves through `sys.exit`, which runs `atexit`; granian's worker is a
`multiprocessing` child, which leaves through `os._exit` after running only multiprocessing's own
finalizers. The close function is registered with both and runs once.
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Callable
from multiprocessing import util

# The span export gets this long at exit: with the endpoint down the exporter retries for up to
# its own timeout per batch, and the server kills the worker 10 s after SIGTERM; the log lines
# must be written before that.
EXPORT_SECONDS = 5.0


def closer(
    provider, stop_logs: Callable[[], None] | None, export_seconds: float = EXPORT_SECONDS
) -> Callable[[], None]:
    """A close function that runs once: shut the tracer provider down (it exports what its batch
    processors hold) for at most `export_seconds`, then stop the log writer (it writes what its
    queue holds)."""
    lock = threading.Lock()
    done = False

    def close() -> None:
        nonlocal done
        with lock:
            if done:
                return
            done = True
        try:
            if provider is not None:
                # may log (export errors): before the log writer stops
                exporting = threading.Thread(target=provider.shutdown, daemon=True)
                exporting.start()
                exporting.join(export_seconds)
        finally:
            if stop_logs is not None:
                stop_logs()

    return close


def on_exit(provider, stop_logs: Callable[[], None] | None) -> Callable[[], None]:
    """`closer(...)`, registered to run at process exit when `stop_logs` is given, i.e. when the
    app owns the process's logging (production, not the tests' apps)."""
    close = closer(provider, stop_logs)
    if stop_logs is not None:
        atexit.register(close)
        # exitpriority: run among multiprocessing's finalizers at a granian worker's exit
        util.Finalize(None, close, exitpriority=100)
    return close
