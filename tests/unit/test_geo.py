"""Counties, Bucharest sectors and countries as users write them, mapped to ISO codes."""

from __future__ import annotations

import unicodedata

import pytest

from punte.domain.geo import (
    COUNTIES,
    EU_COUNTRIES,
    bucharest_sector,
    country_code,
    county_code,
    is_eu,
    vat_prefix,
)

# The official names, with diacritics, of all 41 counties and Bucharest.
OFFICIAL = {
    "RO-AB": "Alba", "RO-AG": "Argeș", "RO-AR": "Arad", "RO-B": "București", "RO-BC": "Bacău",
    "RO-BH": "Bihor", "RO-BN": "Bistrița-Năsăud", "RO-BR": "Brăila", "RO-BT": "Botoșani", "RO-BV": "Brașov",
    "RO-BZ": "Buzău", "RO-CJ": "Cluj", "RO-CL": "Călărași", "RO-CS": "Caraș-Severin", "RO-CT": "Constanța",
    "RO-CV": "Covasna", "RO-DB": "Dâmbovița", "RO-DJ": "Dolj", "RO-GJ": "Gorj", "RO-GL": "Galați",
    "RO-GR": "Giurgiu", "RO-HD": "Hunedoara", "RO-HR": "Harghita", "RO-IF": "Ilfov", "RO-IL": "Ialomița",
    "RO-IS": "Iași", "RO-MH": "Mehedinți", "RO-MM": "Maramureș", "RO-MS": "Mureș", "RO-NT": "Neamț",
    "RO-OT": "Olt", "RO-PH": "Prahova", "RO-SB": "Sibiu", "RO-SJ": "Sălaj", "RO-SM": "Satu Mare",
    "RO-SV": "Suceava", "RO-TL": "Tulcea", "RO-TM": "Timiș", "RO-TR": "Teleorman", "RO-VL": "Vâlcea",
    "RO-VN": "Vrancea", "RO-VS": "Vaslui",
}


def plain(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def cedilla(text: str) -> str:
    """The old cedilla forms ş ţ that many keyboards still produce."""
    return text.replace("ș", "ş").replace("ț", "ţ").replace("Ș", "Ş").replace("Ț", "Ţ")


def test_the_table_has_all_41_counties_and_bucharest() -> None:
    assert set(COUNTIES) == set(OFFICIAL)
    assert len(OFFICIAL) == 42


@pytest.mark.parametrize(("code", "name"), sorted(OFFICIAL.items()))
def test_official_name_maps_to_its_code(code: str, name: str) -> None:
    assert county_code(name) == code


@pytest.mark.parametrize(("code", "name"), sorted(OFFICIAL.items()))
def test_name_without_diacritics_maps_to_its_code(code: str, name: str) -> None:
    assert county_code(plain(name)) == code


@pytest.mark.parametrize(("code", "name"), sorted(OFFICIAL.items()))
def test_name_with_cedilla_diacritics_maps_to_its_code(code: str, name: str) -> None:
    assert county_code(cedilla(name)) == code


@pytest.mark.parametrize(("code", "name"), sorted(OFFICIAL.items()))
def test_name_in_any_case_maps_to_its_code(code: str, name: str) -> None:
    assert county_code(name.upper()) == code
    assert county_code(plain(name).lower()) == code


@pytest.mark.parametrize(("code", "name"), sorted((c, n) for c, n in OFFICIAL.items() if c != "RO-B"))
def test_county_prefixes_are_ignored(code: str, name: str) -> None:
    for written in (f"jud. {name}", f"Judetul {plain(name)}", f"Județul {name}", f"JUD {name.upper()}",
                    f"judet {name}"):
        assert county_code(written) == code, written


@pytest.mark.parametrize("code", sorted(OFFICIAL))
def test_iso_code_with_or_without_ro_prefix_maps_to_itself(code: str) -> None:
    short = code[3:]
    for written in (short, short.lower(), code, code.lower(), f"RO {short}"):
        assert county_code(written) == code, written


@pytest.mark.parametrize(
    "written",
    ["Bucuresti", "București", "Bucureşti", "BUCURESTI", "Mun. București", "Mun. Bucuresti",
     "Municipiul Bucuresti", "Municipiul București", "Bucharest", "B", "RO-B", "Bucuresti Sector 2", "Sector 4"],
)
def test_bucharest_variants_map_to_ro_b(written: str) -> None:
    assert county_code(written) == "RO-B"


@pytest.mark.parametrize(
    ("written", "code"),
    [("Bistrita Nasaud", "RO-BN"), ("Bistrita-Nasaud", "RO-BN"), ("Caras Severin", "RO-CS"),
     ("Satu-Mare", "RO-SM"), ("Dimbovita", "RO-DB"), ("Timis County", "RO-TM"), ("  cluj  ", "RO-CJ")],
)
def test_usual_spelling_variants_map_to_the_county(written: str, code: str) -> None:
    assert county_code(written) == code


@pytest.mark.parametrize("written", ["", "   ", None, "Atlantida", "Cluj-Napoca", "XX", "RO-XX", "Sector 7"])
def test_unknown_county_is_none(written: str | None) -> None:
    assert county_code(written) is None


@pytest.mark.parametrize(
    ("written", "sector"),
    [("Sector 3", "SECTOR3"), ("sector3", "SECTOR3"), ("Sectorul 3", "SECTOR3"), ("S3", "SECTOR3"),
     ("SECTOR3", "SECTOR3"), ("s 1", "SECTOR1"), ("Bucuresti, Sector 6", "SECTOR6"), ("București sect. 5", "SECTOR5"),
     ("Str. Lipscani 1, sectorul 2", "SECTOR2"), ("SECTORUL 4", "SECTOR4")],
)
def test_bucharest_sector_is_found(written: str, sector: str) -> None:
    assert bucharest_sector(written) == sector


@pytest.mark.parametrize("written", ["", None, "Bucuresti", "Sector 7", "Sector 0", "Intersectie 2", "S9"])
def test_text_without_a_sector_gives_none(written: str | None) -> None:
    assert bucharest_sector(written) is None


EU_NAMES = {
    "AT": ("Austria", "Austria", "AUT"), "BE": ("Belgia", "Belgium", "BEL"), "BG": ("Bulgaria", "Bulgaria", "BGR"),
    "CY": ("Cipru", "Cyprus", "CYP"), "CZ": ("Cehia", "Czech Republic", "CZE"),
    "DE": ("Germania", "Germany", "DEU"), "DK": ("Danemarca", "Denmark", "DNK"),
    "EE": ("Estonia", "Estonia", "EST"), "ES": ("Spania", "Spain", "ESP"), "FI": ("Finlanda", "Finland", "FIN"),
    "FR": ("Franța", "France", "FRA"), "GR": ("Grecia", "Greece", "GRC"), "HR": ("Croația", "Croatia", "HRV"),
    "HU": ("Ungaria", "Hungary", "HUN"), "IE": ("Irlanda", "Ireland", "IRL"), "IT": ("Italia", "Italy", "ITA"),
    "LT": ("Lituania", "Lithuania", "LTU"), "LU": ("Luxemburg", "Luxembourg", "LUX"),
    "LV": ("Letonia", "Latvia", "LVA"), "MT": ("Malta", "Malta", "MLT"), "NL": ("Țările de Jos", "Netherlands", "NLD"),
    "PL": ("Polonia", "Poland", "POL"), "PT": ("Portugalia", "Portugal", "PRT"), "RO": ("România", "Romania", "ROU"),
    "SE": ("Suedia", "Sweden", "SWE"), "SI": ("Slovenia", "Slovenia", "SVN"), "SK": ("Slovacia", "Slovakia", "SVK"),
}


def test_eu_countries_are_the_27_member_states_with_gr_for_greece() -> None:
    assert EU_COUNTRIES == frozenset(EU_NAMES)
    assert "GR" in EU_COUNTRIES and "EL" not in EU_COUNTRIES


@pytest.mark.parametrize(("code", "names"), sorted(EU_NAMES.items()))
def test_eu_country_names_and_codes_map_to_alpha2(code: str, names: tuple[str, str, str]) -> None:
    romanian, english, alpha3 = names
    for written in (romanian, plain(romanian), cedilla(romanian), romanian.upper(), english, english.lower(),
                    alpha3, alpha3.lower(), code, code.lower()):
        assert country_code(written) == code, written


@pytest.mark.parametrize(
    ("written", "code"),
    [("UK", "GB"), ("Marea Britanie", "GB"), ("Regatul Unit", "GB"), ("United Kingdom", "GB"), ("GBR", "GB"),
     ("SUA", "US"), ("Statele Unite ale Americii", "US"), ("USA", "US"), ("United States", "US"),
     ("Elveția", "CH"), ("Elvetia", "CH"), ("Switzerland", "CH"), ("CHE", "CH"),
     ("Norvegia", "NO"), ("Norway", "NO"), ("Republica Moldova", "MD"), ("Moldova", "MD"), ("MDA", "MD"),
     ("Ucraina", "UA"), ("Ukraine", "UA"), ("Serbia", "RS"), ("SRB", "RS"), ("Turcia", "TR"), ("Türkiye", "TR"),
     ("China", "CN"), ("CHN", "CN"), ("Japonia", "JP"), ("Canada", "CA"), ("Emiratele Arabe Unite", "AE"),
     ("Olanda", "NL"), ("Holland", "NL"), ("the Netherlands", "NL"), ("EL", "GR"), ("Ελλάδα", "GR")],
)
def test_common_countries_map_to_alpha2(written: str, code: str) -> None:
    assert country_code(written) == code


@pytest.mark.parametrize("written", ["", None, "Narnia", "XX", "ZZZ", "Europa"])
def test_unknown_country_is_none(written: str | None) -> None:
    assert country_code(written) is None


def test_any_iso_alpha2_code_is_accepted() -> None:
    assert country_code("br") == "BR"
    assert country_code("NZ") == "NZ"


def test_vat_prefix_is_the_country_code_except_greece() -> None:
    assert vat_prefix("GR") == "EL"
    assert vat_prefix("EL") == "EL"
    assert vat_prefix("DE") == "DE"
    assert vat_prefix("ro") == "RO"


@pytest.mark.parametrize(("code", "expected"), [("RO", True), ("DE", True), ("GR", True), ("EL", True),
                                                ("GB", False), ("CH", False), ("MD", False), ("", False), (None, False)])
def test_is_eu(code: str | None, expected: bool) -> None:
    assert is_eu(code) is expected
