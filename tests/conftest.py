"""Shared fixtures: databases on SQLite and PostgreSQL, an app, a company with a token.

PostgreSQL tests use their own schema per test session (created and dropped here), so runs never
collide. Outside CI they skip when no PostgreSQL is reachable; with CI=true that is a failure.
"""

from __future__ import annotations

import base64
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from punte.config import Settings
from punte.store.db import Database
from punte.store.migrate import upgrade

IN_CI = os.environ.get("CI", "").lower() == "true"
PG_URL = os.environ.get("PUNTE_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def require_or_skip(condition: bool, reason: str) -> None:
    """Skip locally when a dependency is missing; in CI a missing dependency fails the test."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


def _pg_reachable() -> bool:
    try:
        engine = sa.create_engine(PG_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.exec_driver_sql("select 1")
        engine.dispose()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (migrating once is much faster)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_schema_url() -> Iterator[str]:
    """A migrated PostgreSQL schema of our own for this test session."""
    require_or_skip(_pg_reachable(), f"PostgreSQL not reachable at {PG_URL}")
    schema = f"punte_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_URL)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    url = f"{PG_URL}?options=-csearch_path%3D{schema}"
    try:
        upgrade(url)
        yield url
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


def _truncate_pg(db: Database) -> None:
    from punte.store.models import Base

    names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with db.engine.begin() as conn:
        conn.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        path = tmp_path / "punte.db"
        shutil.copy(sqlite_template, path)
        database = Database(f"sqlite:///{path}")
        yield database
        database.dispose()
    else:
        url = request.getfixturevalue("pg_schema_url")
        database = Database(url)
        _truncate_pg(database)
        yield database
        database.dispose()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data", secret_key="test-secret-key", public_url="http://testserver", bnr_auto_fetch=False
    )


CIF = "RO18547290"
OTHER_CIF = "RO14399840"
EMAIL = "api@firma.ro"


class Account:
    """A company with series FCT (invoices), PRF (proformas), CH (receipts) and an API token."""

    def __init__(self, cif: str, email: str, token: str) -> None:
        self.cif = cif
        self.email = email
        self.token = token

    @property
    def headers(self) -> dict[str, str]:
        raw = base64.b64encode(f"{self.email}:{self.token}".encode()).decode()
        return {"Authorization": f"Basic {raw}", "Content-Type": "application/json"}


def make_account(db: Database, settings: Settings, cif: str = CIF, email: str = EMAIL, *, vat_payer: bool = True,
                 name: str = "Firma Test SRL") -> Account:
    from punte.services.companies import CompanyData, add_company, add_series, add_token

    with db.session(write=True) as session:
        company = add_company(
            session,
            CompanyData(
                cif=cif, name=name, vat_payer=vat_payer, address="Str. Memorandumului 28", city="Cluj-Napoca",
                county="Cluj", reg_com="J12/1234/2020", iban="RO49AAAA1B31007593840000", bank="Banca Test",
            ),
            actor="test",
        )
        add_series(session, company, type="f", name="FCT", actor="test")
        add_series(session, company, type="p", name="PRF", actor="test")
        add_series(session, company, type="c", name="CH", actor="test")
        token = add_token(session, company, email, secret_key=settings.resolved_secret_key(), actor="test")
    return Account(cif, email, token)


@pytest.fixture
def account(db: Database, settings: Settings) -> Account:
    return make_account(db, settings)


@pytest.fixture
def client(db: Database, settings: Settings):  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from punte.api.app import create_app

    app = create_app(settings, db=db, migrate=False)
    with TestClient(app) as test_client:
        yield test_client
