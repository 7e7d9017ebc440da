"""PollTrigger: requests become as few polls as keep every change fresh.

Real threads and a fake poll function. The assertions are on counts; waits are
generous conditions, never durations.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest

from syndicator.triggers import DEFAULT_DEBOUNCE_SECONDS, PollTrigger

#: Long enough that a tight loop of requests always fits in one window.
WIDE_WINDOW = 0.5
#: How long to watch for polls that should not happen.
SETTLE = 0.3


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll `condition` until it holds or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.005)
    return condition()


class FakePoll:
    """Counts calls; can hold a call until released."""

    def __init__(self) -> None:
        self.calls = 0
        self.running = threading.Event()
        self.release = threading.Event()
        self.release.set()
        self.threads: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self) -> None:
        with self._lock:
            self.calls += 1
            self.threads.add(threading.current_thread().name)
        self.running.set()
        self.release.wait(10)
        self.running.clear()

    def hold(self) -> None:
        """Make the next call block until `release` is set."""
        self.release.clear()


@pytest.fixture
def poll() -> FakePoll:
    return FakePoll()


@pytest.fixture
def make_trigger(poll: FakePoll) -> Iterator[Callable[..., PollTrigger]]:
    made: list[PollTrigger] = []

    def make(debounce_seconds: float = DEFAULT_DEBOUNCE_SECONDS) -> PollTrigger:
        trigger = PollTrigger(poll, debounce_seconds=debounce_seconds)
        made.append(trigger)
        return trigger

    yield make
    poll.release.set()
    for trigger in made:
        assert trigger.stop(timeout=10)


def test_a_request_starts_one_poll_on_the_trigger_thread(
    poll: FakePoll, make_trigger: Callable[..., PollTrigger]
) -> None:
    trigger = make_trigger()
    assert trigger.request() is True
    assert wait_for(lambda: poll.calls == 1)
    time.sleep(SETTLE)
    assert poll.calls == 1
    assert trigger.polls == 1
    assert poll.threads == {"poll-trigger"}


def test_a_burst_within_the_window_gives_one_poll(
    poll: FakePoll, make_trigger: Callable[..., PollTrigger]
) -> None:
    trigger = make_trigger(debounce_seconds=WIDE_WINDOW)
    for _ in range(1000):
        trigger.request()
    assert wait_for(lambda: poll.calls >= 1)
    time.sleep(SETTLE)
    assert poll.calls == 1


def test_requests_from_many_threads_give_one_poll(
    poll: FakePoll, make_trigger: Callable[..., PollTrigger]
) -> None:
    trigger = make_trigger(debounce_seconds=WIDE_WINDOW)
    start = threading.Barrier(8)

    def hammer() -> None:
        start.wait()
        for _ in range(100):
            trigger.request()

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wait_for(lambda: poll.calls >= 1)
    time.sleep(SETTLE)
    assert poll.calls == 1


def test_requests_during_a_poll_give_exactly_one_follow_up(
    poll: FakePoll, make_trigger: Callable[..., PollTrigger]
) -> None:
    trigger = make_trigger(debounce_seconds=0)
    poll.hold()
    trigger.request()
    assert poll.running.wait(10)
    for _ in range(50):
        assert trigger.request() is True
    poll.release.set()
    assert wait_for(lambda: poll.calls == 2)
    time.sleep(SETTLE)
    assert poll.calls == 2


def test_a_request_after_the_poll_ended_starts_another(
    poll: FakePoll, make_trigger: Callable[..., PollTrigger]
) -> None:
    trigger = make_trigger(debounce_seconds=0)
    trigger.request()
    assert wait_for(lambda: poll.calls == 1 and not poll.running.is_set())
    assert wait_for(lambda: not trigger._running)
    trigger.request()
    assert wait_for(lambda: poll.calls == 2)


def test_run_polls_on_the_calling_thread(
    poll: FakePoll, make_trigger: Callable[..., PollTrigger]
) -> None:
    trigger = make_trigger()
    assert trigger.run() is True
    assert poll.calls == 1
    assert poll.threads == {threading.current_thread().name}


def test_run_while_a_poll_runs_does_not_overlap_but_gets_a_follow_up(
    poll: FakePoll, make_trigger: Callable[..., PollTrigger]
) -> None:
    trigger = make_trigger(debounce_seconds=0)
    poll.hold()
    trigger.request()
    assert poll.running.wait(10)
    assert trigger.run() is False  # the scheduled tick finds a poll in flight
    assert poll.calls == 1
    poll.release.set()
    assert wait_for(lambda: poll.calls == 2)
    time.sleep(SETTLE)
    assert poll.calls == 2


def test_a_request_during_a_scheduled_run_is_its_follow_up(
    poll: FakePoll, make_trigger: Callable[..., PollTrigger]
) -> None:
    trigger = make_trigger(debounce_seconds=0)
    poll.hold()
    scheduled = threading.Thread(target=trigger.run, name="scheduler-worker")
    scheduled.start()
    assert poll.running.wait(10)
    trigger.request()
    trigger.request()
    poll.release.set()
    scheduled.join(10)
    assert poll.calls == 2
    # The follow-up ran inside the scheduled run, on its thread.
    assert poll.threads == {"scheduler-worker"}
    time.sleep(SETTLE)
    assert poll.calls == 2


def test_stop_makes_requests_no_ops(
    poll: FakePoll, make_trigger: Callable[..., PollTrigger]
) -> None:
    trigger = make_trigger(debounce_seconds=0)
    trigger.request()
    assert wait_for(lambda: poll.calls == 1)
    assert trigger.stop(timeout=10) is True
    assert trigger.stopped
    assert trigger.request() is False
    assert trigger.run() is False
    time.sleep(SETTLE)
    assert poll.calls == 1


def test_stop_cancels_a_request_still_in_its_window(
    poll: FakePoll, make_trigger: Callable[..., PollTrigger]
) -> None:
    trigger = make_trigger(debounce_seconds=WIDE_WINDOW)
    trigger.request()
    assert trigger.stop(timeout=10) is True
    time.sleep(WIDE_WINDOW + SETTLE)
    assert poll.calls == 0


def test_stop_during_a_poll_drops_its_follow_up(
    poll: FakePoll, make_trigger: Callable[..., PollTrigger]
) -> None:
    trigger = make_trigger(debounce_seconds=0)
    poll.hold()
    trigger.request()
    assert poll.running.wait(10)
    trigger.request()
    assert trigger.stop(timeout=0.01) is False  # the poll in flight is still running
    poll.release.set()
    assert wait_for(lambda: trigger._thread is not None and not trigger._thread.is_alive())
    assert poll.calls == 1


def test_a_failing_poll_does_not_end_the_trigger(
    make_trigger: Callable[..., PollTrigger], caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[int] = []

    def failing() -> None:
        calls.append(1)
        raise RuntimeError("source down")

    trigger = PollTrigger(failing, debounce_seconds=0)
    try:
        trigger.request()
        assert wait_for(lambda: len(calls) == 1)
        assert wait_for(lambda: not trigger._running)
        trigger.request()
        assert wait_for(lambda: len(calls) == 2)
    finally:
        assert trigger.stop(timeout=10)
    assert "poll failed" in caplog.text


class FakeScheduler:
    """Runs the submitted job on its own single worker thread, like the daemon's executor."""

    def __init__(self, job: Callable[[], object]) -> None:
        self.job = job
        self.submits = 0
        self._wake = threading.Event()
        self._stop = False
        self._thread = threading.Thread(target=self._work, name="scheduler-worker")
        self._thread.start()

    def submit(self) -> None:
        self.submits += 1
        self._wake.set()

    def _work(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            if self._stop:
                return
            self.job()

    def close(self) -> None:
        self._stop = True
        self._wake.set()
        self._thread.join(10)


def test_submit_runs_polls_on_the_callers_thread(poll: FakePoll) -> None:
    holder: list[PollTrigger] = []
    scheduler = FakeScheduler(lambda: holder[0].run())
    trigger = PollTrigger(poll, submit=scheduler.submit, debounce_seconds=WIDE_WINDOW)
    holder.append(trigger)
    try:
        for _ in range(100):
            trigger.request()
        assert wait_for(lambda: poll.calls == 1)
        time.sleep(SETTLE)
        assert poll.calls == 1
        assert scheduler.submits == 1
        assert poll.threads == {"scheduler-worker"}
    finally:
        trigger.stop(timeout=10)
        scheduler.close()


def test_submit_mode_folds_requests_during_a_poll_into_one_follow_up(poll: FakePoll) -> None:
    holder: list[PollTrigger] = []
    scheduler = FakeScheduler(lambda: holder[0].run())
    trigger = PollTrigger(poll, submit=scheduler.submit, debounce_seconds=0)
    holder.append(trigger)
    try:
        poll.hold()
        trigger.request()
        assert poll.running.wait(10)
        for _ in range(50):
            trigger.request()
        poll.release.set()
        assert wait_for(lambda: poll.calls == 2)
        time.sleep(SETTLE)
        assert poll.calls == 2
        assert scheduler.submits == 1  # the follow-up needed no second submit
    finally:
        poll.release.set()
        trigger.stop(timeout=10)
        scheduler.close()


def test_a_failing_submit_is_logged_and_the_trigger_keeps_working(
    poll: FakePoll, caplog: pytest.LogCaptureFixture
) -> None:
    attempts: list[int] = []

    def broken() -> None:
        attempts.append(1)
        raise RuntimeError("scheduler is shut down")

    trigger = PollTrigger(poll, submit=broken, debounce_seconds=0)
    try:
        trigger.request()
        assert wait_for(lambda: len(attempts) == 1)
        assert wait_for(lambda: "could not arrange a poll" in caplog.text)
        trigger.request()
        assert wait_for(lambda: len(attempts) == 2)
    finally:
        trigger.stop(timeout=10)
    assert poll.calls == 0


def test_negative_debounce_is_refused(poll: FakePoll) -> None:
    with pytest.raises(ValueError, match="debounce"):
        PollTrigger(poll, debounce_seconds=-1)
