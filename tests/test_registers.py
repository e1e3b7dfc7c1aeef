"""The outgoing register under real concurrent transactions, on SQLite and PostgreSQL."""

import threading
import time

import pytest

from db.engine import transaction
from db.migrate import upgrade
from db.registers import next_number


def test_numbers_start_at_one_per_unit_and_year(database_url: str) -> None:
    upgrade(database_url)
    with transaction(database_url) as session:
        assert [next_number(session, "183.VHTT", 2024) for _ in range(3)] == [1, 2, 3]
        assert next_number(session, "183.VHTT", 2025) == 1
        assert next_number(session, "20.STTTT", 2024) == 1


def test_concurrent_transactions_get_consecutive_distinct_numbers(database_url: str) -> None:
    upgrade(database_url)
    workers, got, errors = 8, [], []
    barrier = threading.Barrier(workers)

    def take() -> None:
        try:
            barrier.wait()
            with transaction(database_url) as session:
                number = next_number(session, "183.VHTT", 2024)
                time.sleep(0.05)  # hold the transaction open while the others try
                got.append(number)
        except Exception as exc:  # surfaced below; a thread cannot fail the test itself
            errors.append(exc)

    threads = [threading.Thread(target=take) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(got) == list(range(1, workers + 1))


def test_a_rolled_back_approval_gives_its_number_back(database_url: str) -> None:
    upgrade(database_url)
    with pytest.raises(RuntimeError), transaction(database_url) as session:
        assert next_number(session, "183.VHTT", 2024) == 1
        raise RuntimeError("approval failed after numbering")
    with transaction(database_url) as session:
        assert next_number(session, "183.VHTT", 2024) == 1
