"""No gaps and no duplicates when many clients issue on one series at once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from fastapi.testclient import TestClient
from sqlalchemy import select

from punte.api.app import create_app
from punte.store.models import Document, Series
from tests.conftest import make_account
from tests.integration.test_invoice_api import API, body

CLIENTS = 8
PER_CLIENT = 200


def _unlimited(settings):  # type: ignore[no-untyped-def]
    """The API's per-user rate limit (1000 calls per 10 s) is not what these tests measure: a fast machine
    issues the 1600 invoices in less than 10 s."""
    return settings.model_copy(update={"rate_limit_calls": 1_000_000})


def test_eight_clients_issuing_200_each_get_exactly_1_to_1600(db, settings) -> None:  # type: ignore[no-untyped-def]
    account = make_account(db, settings)
    app = create_app(_unlimited(settings), db=db, migrate=False)
    payload = body()

    def worker(_: int) -> list[str]:
        numbers = []
        with TestClient(app) as c:
            for _ in range(PER_CLIENT):
                r = c.post(f"{API}/invoice", headers=account.headers, json=payload)
                assert r.status_code == 200, r.text
                numbers.append(r.json()["number"])
        return numbers

    with ThreadPoolExecutor(CLIENTS) as pool:
        answers = [n for chunk in pool.map(worker, range(CLIENTS)) for n in chunk]

    total = CLIENTS * PER_CLIENT
    assert sorted(int(n) for n in answers) == list(range(1, total + 1))
    with db.session() as s:
        stored = sorted(s.scalars(select(Document.number)))
        assert stored == list(range(1, total + 1))
        assert s.scalar(select(Series.next_number).where(Series.name == "FCT", Series.type == "f")) == total + 1


def test_drafts_issued_concurrently_with_invoices_keep_the_sequence(db, settings) -> None:  # type: ignore[no-untyped-def]
    account = make_account(db, settings)
    app = create_app(_unlimited(settings), db=db, migrate=False)

    def worker(i: int) -> None:
        with TestClient(app) as c:
            for _ in range(20):
                if i % 2:
                    r = c.post(f"{API}/invoice/v2", headers=account.headers, json=body(isDraft=True))
                    doc_id = r.json()["documentId"]
                    r = c.put(f"{API}/invoice/issue", headers=account.headers,
                              params={"cif": account.cif, "documentId": doc_id})
                else:
                    r = c.post(f"{API}/invoice", headers=account.headers, json=body())
                assert r.status_code == 200, r.text

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(worker, range(4)))
    with db.session() as s:
        assert sorted(s.scalars(select(Document.number))) == list(range(1, 81))
