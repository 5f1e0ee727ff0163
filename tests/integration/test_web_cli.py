"""``punte user add|list|password``: the operator creates the first dashboard users."""

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


def run(*args: str, stdin: str | None = None):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, list(args), input=stdin)


def test_operator_adds_users_and_the_owner_logs_in_to_the_dashboard(cli_env: Path) -> None:
    assert run("company", "add", "--cif", "RO18547290", "--name", "Firma SRL").exit_code == 0
    assert run("company", "add", "--cif", "RO14399840", "--name", "Alta SRL").exit_code == 0
    r = run("user", "add", "--email", "Ana@Firma.ro", "--role", "owner", "--cif", "RO18547290", "--password-stdin",
            stdin="parola-de-proprietar\n")
    assert r.exit_code == 0, r.output
    assert "ana@firma.ro is owner on Firma SRL" in r.output
    r = run("user", "add", "--email", "ana@firma.ro", "--role", "viewer", "--cif", "14399840")  # no password asked
    assert r.exit_code == 0, r.output
    listing = run("user", "list")
    assert listing.exit_code == 0 and "Firma SRL" in listing.output and "Alta SRL" in listing.output
    assert "viewer" in run("user", "list", "--cif", "RO14399840").output
    assert "owner" not in run("user", "list", "--cif", "RO14399840").output

    from fastapi.testclient import TestClient

    from punte.api.app import create_app
    from tests.integration.web_support import login

    with TestClient(create_app(get_settings())) as c:
        assert login(c, "ana@firma.ro", "parola-de-proprietar").status_code == 303
        assert "Firma SRL" in c.get("/").text


def test_user_add_refuses_bad_input_with_a_clear_message(cli_env: Path) -> None:
    run("company", "add", "--cif", "RO18547290", "--name", "Firma SRL")
    r = run("user", "add", "--email", "a@firma.ro", "--role", "admin", "--cif", "RO18547290", "--password-stdin",
            stdin="parola-lunga-123\n")
    assert r.exit_code == 1 and "owner, accountant sau viewer" in r.output
    r = run("user", "add", "--email", "a@firma.ro", "--role", "owner", "--cif", "RO18547290", "--password-stdin",
            stdin="scurta\n")
    assert r.exit_code == 1 and "cel putin 10 caractere" in r.output
    r = run("user", "add", "--email", "a@firma.ro", "--role", "owner", "--cif", "RO14399840", "--password-stdin",
            stdin="parola-lunga-123\n")
    assert r.exit_code == 1 and "nu mai este disponibila" in r.output


def test_user_password_resets_the_password(cli_env: Path) -> None:
    run("company", "add", "--cif", "RO18547290", "--name", "Firma SRL")
    run("user", "add", "--email", "a@firma.ro", "--role", "owner", "--cif", "RO18547290", "--password-stdin",
        stdin="parola-veche-123\n")
    r = run("user", "password", "--email", "a@firma.ro", "--password-stdin", stdin="parola-noua-456\n")
    assert r.exit_code == 0, r.output
    assert run("user", "password", "--email", "b@firma.ro", "--password-stdin", stdin="x" * 12).exit_code == 1

    from fastapi.testclient import TestClient

    from punte.api.app import create_app
    from tests.integration.web_support import login

    with TestClient(create_app(get_settings())) as c:
        assert login(c, "a@firma.ro", "parola-veche-123").status_code == 401
        assert login(c, "a@firma.ro", "parola-noua-456").status_code == 303
