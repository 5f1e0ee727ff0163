"""The operator's CLI, as a script would drive it."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from punte.cli import app
from punte.config import get_settings


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PUNTE_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("PUNTE_SECRET_KEY", "cli-test")
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def run(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, list(args))


def test_operator_sets_up_a_company_and_the_token_works(cli_env: Path) -> None:
    assert run("db", "upgrade").exit_code == 0
    r = run("company", "add", "--cif", "RO18547290", "--name", "Firma SRL", "--address", "Str. 1",
            "--city", "Cluj-Napoca", "--county", "Cluj", "--iban", "RO49AAAA1B31007593840000")
    assert r.exit_code == 0, r.output
    assert run("series", "add", "--cif", "RO18547290", "--type", "f", "--name", "FCT", "--next", "7").exit_code == 0
    r = run("token", "add", "--cif", "RO18547290", "--email", "ops@firma.ro")
    assert r.exit_code == 0
    token = r.output.strip().splitlines()[-1]
    assert len(token) == 64

    from fastapi.testclient import TestClient

    from punte.api.app import create_app

    with TestClient(create_app(get_settings())) as c:
        answer = c.get("/SBORO/api/series", params={"cif": "RO18547290"}, auth=("ops@firma.ro", token))
    assert answer.json()["list"] == [{"name": "FCT", "nextNumber": "0007", "type": "f"}]


def test_tax_list_shows_current_and_historical_rates(cli_env: Path) -> None:
    run("company", "add", "--cif", "18547290", "--name", "Firma SRL")
    r = run("tax", "list", "--cif", "RO18547290")
    assert r.exit_code == 0
    assert "Normala" in r.output and "2025-07-31" in r.output and "21" in r.output


def test_invalid_cif_is_refused_with_a_clear_error(cli_env: Path) -> None:
    r = run("company", "add", "--cif", "RO123", "--name", "X")
    assert r.exit_code == 1 and "CIF invalid" in r.output


def test_series_for_an_unknown_company(cli_env: Path) -> None:
    r = run("series", "add", "--cif", "RO18547290", "--type", "f", "--name", "FCT")
    assert r.exit_code == 1
