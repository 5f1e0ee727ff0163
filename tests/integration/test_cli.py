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


def test_efactura_xml_and_validate_round_trip(cli_env: Path) -> None:
    from tests.conftest import SHARED, require_or_skip

    require_or_skip((SHARED / "efactura" / "ro16931-ubl-1.0.9.zip").exists(), "../shared/efactura missing")
    run("company", "add", "--cif", "RO18547290", "--name", "Firma SRL", "--address", "Str. 1",
        "--city", "Cluj-Napoca", "--county", "Cluj")
    run("series", "add", "--cif", "RO18547290", "--type", "f", "--name", "FCT")
    token = run("token", "add", "--cif", "RO18547290", "--email", "ops@firma.ro").output.strip().splitlines()[-1]
    from fastapi.testclient import TestClient

    from punte.api.app import create_app
    from tests.integration.test_invoice_api import body

    with TestClient(create_app(get_settings())) as c:
        assert c.post("/SBORO/api/invoice", json=body(), auth=("ops@firma.ro", token)).status_code == 200

    out = cli_env / "FCT0001.xml"
    assert run("efactura", "xml", "--cif", "RO18547290", "--series", "FCT", "--number", "0001",
               "--output", str(out)).exit_code == 0
    assert b"CIUS-RO:1.0.1" in out.read_bytes()
    assert run("efactura", "validate", str(out)).exit_code == 2  # rules not installed yet: said clearly
    r = run("rules", "install", "--from", str(SHARED / "efactura" / "ro16931-ubl-1.0.9.zip"),
            "--xsd-from", str(SHARED / "efactura" / "ubl-2.1"))
    assert r.exit_code == 0, r.output
    ok = run("efactura", "validate", str(out))
    assert ok.exit_code == 0 and "OK" in ok.output
    bad = cli_env / "bad.xml"
    bad.write_bytes(out.read_bytes().replace(b"CIUS-RO:1.0.1", b"CIUS-RO:1.0.0"))
    refused = run("efactura", "validate", str(bad))
    assert refused.exit_code == 1 and "BR-RO-001" in refused.output
    wrong = cli_env / "wrong.zip"
    wrong.write_bytes(b"not the bundle")
    assert run("rules", "install", "--from", str(wrong)).exit_code == 1
