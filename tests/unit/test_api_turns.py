"""The API's writers take turns in arrival order (``api.context.Turn``, ``WriteTurns``)."""

from __future__ import annotations

import threading
import time

from punte.api.context import Turn, WriteTurns


def _wait_until(condition, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


def test_the_turn_goes_to_the_writer_that_waited_longest() -> None:
    turn = Turn()
    order: list[int] = []
    threads = []

    def writer(i: int) -> None:
        with turn:
            order.append(i)

    with turn:
        for i in range(6):
            t = threading.Thread(target=writer, args=(i,))
            t.start()
            threads.append(t)
            _wait_until(lambda n=i + 1: len(turn._waiting) == n)  # queued before the next one starts
    for t in threads:
        t.join(5)
    assert order == [0, 1, 2, 3, 4, 5]


def test_one_writer_at_a_time_under_contention() -> None:
    turn = Turn()
    inside = 0
    most = 0
    guard = threading.Lock()

    def writer() -> None:
        nonlocal inside, most
        for _ in range(300):
            with turn:
                with guard:
                    inside += 1
                    most = max(most, inside)
                time.sleep(0)
                with guard:
                    inside -= 1

    threads = [threading.Thread(target=writer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert most == 1 and inside == 0
    with turn:  # free again at the end
        pass


def test_sqlite_writers_share_one_turn_postgres_writers_one_per_company() -> None:
    sqlite = WriteTurns(one_for_all=True)
    assert sqlite.turn("18547290") is sqlite.turn("14399840")
    postgres = WriteTurns(one_for_all=False)
    assert postgres.turn("18547290") is postgres.turn("18547290")
    assert postgres.turn("18547290") is not postgres.turn("14399840")
