"""`PollTrigger`: the one place every "poll now" request goes.

File events, signed source pings, `syndicator poll` and SIGHUP all call
:meth:`PollTrigger.request`. The trigger turns any number of requests into as
few polls as keep every change fresh:

- a request while no poll runs starts one after a short debounce window, so a
  burst of requests (a thousand files copied into the folder) gives one poll;
- requests while a poll runs are absorbed into exactly one follow-up poll,
  started as soon as the running one ends;
- after :meth:`PollTrigger.stop`, requests are no-ops.

Every poll goes through :meth:`PollTrigger.run`, which never runs two polls at
once and serves the requests that arrived meanwhile. The scheduled safety-net
job should call ``run`` too, so the trigger always knows whether a poll is in
flight.

Who calls ``run`` after a request is the caller's choice. By default a worker
thread owned by the trigger does (it waits out the debounce window, then polls
on itself). With ``submit``, that thread instead calls ``submit()``, which must
arrange for ``run`` to be called soon on the caller's own poll thread, e.g.
``lambda: scheduler.modify_job("poll-and-build", next_run_time=now())`` when the
scheduled job's function is ``trigger.run``. Calling ``submit`` twice before
``run`` starts must be harmless (APScheduler's ``modify_job`` is).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

__all__ = ["DEFAULT_DEBOUNCE_SECONDS", "PollTrigger"]

log = logging.getLogger(__name__)

#: Requests closer together than this give one poll.
DEFAULT_DEBOUNCE_SECONDS = 0.05


class PollTrigger:
    """Coalesces "poll now" requests into as few polls as keep every change fresh."""

    def __init__(
        self,
        poll: Callable[[], object],
        *,
        submit: Callable[[], object] | None = None,
        debounce_seconds: float = DEFAULT_DEBOUNCE_SECONDS,
        name: str = "poll-trigger",
    ) -> None:
        if debounce_seconds < 0:
            raise ValueError("debounce_seconds must not be negative")
        self._poll = poll
        self._submit = submit
        self._debounce = debounce_seconds
        self._name = name
        self._cond = threading.Condition()
        self._pending = False  # a request no poll has started to serve yet
        self._running = False  # a thread is inside run()
        self._due: float | None = None  # when the dispatcher should start a poll
        self._stopped = False
        self._thread: threading.Thread | None = None
        self._polls = 0

    @property
    def polls(self) -> int:
        """How many polls this trigger has started (any caller of `run`)."""
        with self._cond:
            return self._polls

    @property
    def stopped(self) -> bool:
        """Whether `stop` was called."""
        with self._cond:
            return self._stopped

    def request(self) -> bool:
        """Ask for a poll soon; never blocks on the poll. False once stopped."""
        with self._cond:
            if self._stopped:
                return False
            self._pending = True
            if self._running or self._due is not None:
                return True  # the poll in flight or the one being arranged serves it
            self._due = time.monotonic() + self._debounce
            self._ensure_thread()
            self._cond.notify_all()
            return True

    def __call__(self) -> bool:
        """Same as `request`, so the trigger itself can be passed as a callback."""
        return self.request()

    def run(self) -> bool:
        """Poll now on this thread, then once more if requests came in meanwhile.

        If another thread is polling, mark a request for its follow-up and
        return False at once: two polls never overlap.
        """
        with self._cond:
            if self._stopped:
                return False
            if self._running:
                self._pending = True
                return False
            self._running = True
            self._pending = False
        try:
            while True:
                self._poll_once()
                with self._cond:
                    if not self._pending or self._stopped:
                        return True
                    self._pending = False
        finally:
            with self._cond:
                self._running = False
                self._cond.notify_all()

    def stop(self, timeout: float | None = 5.0) -> bool:
        """Make later requests no-ops; wait up to `timeout` for the trigger's own thread.

        Returns False if that thread is still busy (a poll in flight) when the
        timeout ends. A poll started by `run` on another thread is not waited for.
        """
        with self._cond:
            self._stopped = True
            self._pending = False
            self._due = None
            self._cond.notify_all()
            thread = self._thread
        if thread is None or thread is threading.current_thread():
            return True
        thread.join(timeout)
        return not thread.is_alive()

    # -- the dispatcher thread ------------------------------------------------

    def _ensure_thread(self) -> None:
        # Called with the lock held: started lazily, so an unused trigger costs nothing.
        if self._thread is None:
            self._thread = threading.Thread(target=self._dispatch, name=self._name, daemon=True)
            self._thread.start()

    def _dispatch(self) -> None:
        while True:
            with self._cond:
                while not self._stopped and self._due is None:
                    self._cond.wait()
                if self._stopped:
                    return
                assert self._due is not None
                delay = self._due - time.monotonic()
                if delay > 0:
                    # Requests arriving now find _due set and join this poll.
                    self._cond.wait(delay)
                    continue
                self._due = None
                if self._running or not self._pending:
                    continue  # the poll in flight will do the follow-up
            if self._submit is None:
                self.run()
            else:
                try:
                    self._submit()
                except Exception:
                    log.exception("could not arrange a poll; the scheduled poll remains")

    def _poll_once(self) -> None:
        with self._cond:
            self._polls += 1
        try:
            self._poll()
        except Exception:
            # The poll function should report its own failures; one that escapes
            # must not end the trigger.
            log.exception("poll failed")
