"""``punte serve``'s worker in a child process of its own.

A worker thread inside the API process shares its CPU time, its interpreter lock and its garbage
collections with the requests: issuing an invoice takes ~15 ms of CPU, and webhook acknowledgements,
which a provider waits for, were measured waiting behind it (bench/webhooks.py). So by default
``punte serve`` starts ``punte worker`` as a child process (``PUNTE_WORKER_PROCESS``), still one
command for the operator:

- the child is told at once when the API queued work: the API process's :data:`punte.worker.queue.WAKE`
  writes a byte to a pipe whose other end the child reads;
- the child stops when that pipe closes, so it never outlives the server (even one killed with SIGKILL);
- a child that exits unexpectedly is started again after ``restart_after`` seconds;
- on shutdown the server closes the pipe and waits for the job under way to finish.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping, Sequence

from . import queue

log = logging.getLogger("punte.worker")


class WorkerProcess:
    """Starts, restarts and stops one ``punte worker`` child."""

    def __init__(self, *, poll: float = 1.0, restart_after: float = 2.0, stop_timeout: float = 30.0,
                 command: Sequence[str] | None = None, environment: Mapping[str, str] | None = None) -> None:
        """``environment``: variables given to the child on top of this process's (the server's settings,
        :meth:`punte.config.Settings.as_environment`)."""
        self.poll = poll
        self.environment = dict(environment or {})
        self.restart_after = restart_after
        self.stop_timeout = stop_timeout
        self.command = list(command) if command is not None else [sys.executable, "-m", "punte.cli", "worker"]
        self.process: subprocess.Popen[bytes] | None = None
        self.restarts = 0
        self._pipe: int | None = None
        self._lock = threading.Lock()  # spawning, and closing the pipe, never overlap
        self._stopping = threading.Event()
        self._supervisor: threading.Thread | None = None

    def start(self) -> None:
        self._spawn()
        self._supervisor = threading.Thread(target=self._supervise, name="punte-worker-supervisor", daemon=True)
        self._supervisor.start()

    def _spawn(self) -> None:
        read_end, write_end = os.pipe()
        os.set_blocking(write_end, False)
        try:
            self.process = subprocess.Popen(
                [*self.command, "--poll", str(self.poll), "--wake-fd", str(read_end)], pass_fds=(read_end,),
                env={**os.environ, **self.environment, "PUNTE_CONFIG": os.devnull} if self.environment else None)
        except BaseException:
            os.close(write_end)
            raise
        finally:
            os.close(read_end)
        self._pipe = write_end
        queue.WAKE.forward_to(write_end)
        log.info("worker process %s started", self.process.pid)

    def _close_pipe(self) -> None:
        """Callers hold ``_lock``."""
        if self._pipe is not None:
            queue.WAKE.stop_forwarding(self._pipe)
            os.close(self._pipe)
            self._pipe = None

    def _supervise(self) -> None:
        while True:
            process = self.process
            assert process is not None
            code = process.wait()
            with self._lock:
                if self._stopping.is_set():
                    return
                self._close_pipe()
            log.warning("worker process %s exited with %s; starting another in %.0f s", process.pid, code,
                        self.restart_after)
            if self._stopping.wait(self.restart_after):
                return
            with self._lock:
                if self._stopping.is_set():  # stop() came meanwhile: start nothing it would not stop
                    return
                try:
                    self._spawn()
                    self.restarts += 1
                except OSError:
                    log.exception("cannot start the worker process")

    def stop(self) -> None:
        """Let the child finish the job under way and exit (terminated after ``stop_timeout``)."""
        with self._lock:
            self._stopping.set()
            self._close_pipe()
            process = self.process
        if process is not None and process.poll() is None:
            try:
                process.wait(self.stop_timeout)
            except subprocess.TimeoutExpired:
                log.warning("worker process %s did not stop in %.0f s; terminating it", process.pid,
                            self.stop_timeout)
                process.terminate()
                process.wait(10)
        if self._supervisor is not None:
            self._supervisor.join(5)


def listen_for_wakes(fd: int, stop: Callable[[], None]) -> threading.Thread:
    """In the child: a thread that wakes the worker for every byte on ``fd`` and stops it when the
    parent closes the pipe (or dies)."""

    def listen() -> None:
        while True:
            try:
                data = os.read(fd, 4096)
            except OSError:
                data = b""
            if not data:
                log.info("the server closed the worker's pipe; stopping")
                stop()
                return
            queue.WAKE.set()

    thread = threading.Thread(target=listen, name="punte-worker-wakes", daemon=True)
    thread.start()
    return thread


__all__ = ["WorkerProcess", "listen_for_wakes"]
