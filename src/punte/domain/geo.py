"""Places as users write them, turned into the codes e-Factura needs. Pure functions, no I/O.

* :func:`county_code` maps a Romanian county ("Cluj", "jud. Cluj", "Judetul Cluj", "CJ", "RO-CJ",
  "Mun. București"...) to its ISO 3166-2:RO code ("RO-CJ", "RO-B").
* :func:`bucharest_sector` finds a Bucharest sector ("Sector 3", "sectorul 3", "S3") and returns it
  as CIUS-RO wants it in the city of a Bucharest address ("SECTOR3").
* :func:`country_code` maps country names (Romanian or English, with or without diacritics) and
  ISO 3166-1 alpha-2 / alpha-3 codes to the alpha-2 code.
* :data:`EU_COUNTRIES`, :func:`is_eu` and :func:`vat_prefix` (Greece's VAT numbers start with "EL").

Matching ignores case, diacritics (both the comma-below ș ț and the cedilla ş ţ forms),
punctuation, hyphens and spaces.
"""

from __future__ import annotations

import re
import unicodedata

# ISO 3166-2:RO: code -> the names people write (first one is the official name).
COUNTIES: dict[str, tuple[str, ...]] = {
    "RO-AB": ("Alba",),
    "RO-AG": ("Argeș", "Arges"),
    "RO-AR": ("Arad",),
    "RO-B": ("București", "Bucuresti", "Bucharest", "Municipiul București", "Mun. București", "Bucurest"),
    "RO-BC": ("Bacău",),
    "RO-BH": ("Bihor",),
    "RO-BN": ("Bistrița-Năsăud", "Bistrita", "Bistrița Năsăud"),
    "RO-BR": ("Brăila",),
    "RO-BT": ("Botoșani",),
    "RO-BV": ("Brașov",),
    "RO-BZ": ("Buzău",),
    "RO-CJ": ("Cluj",),
    "RO-CL": ("Călărași",),
    "RO-CS": ("Caraș-Severin", "Caras Severin", "Caraș"),
    "RO-CT": ("Constanța",),
    "RO-CV": ("Covasna",),
    "RO-DB": ("Dâmbovița", "Dimbovita"),
    "RO-DJ": ("Dolj",),
    "RO-GJ": ("Gorj",),
    "RO-GL": ("Galați",),
    "RO-GR": ("Giurgiu",),
    "RO-HD": ("Hunedoara",),
    "RO-HR": ("Harghita",),
    "RO-IF": ("Ilfov",),
    "RO-IL": ("Ialomița",),
    "RO-IS": ("Iași",),
    "RO-MH": ("Mehedinți",),
    "RO-MM": ("Maramureș",),
    "RO-MS": ("Mureș",),
    "RO-NT": ("Neamț",),
    "RO-OT": ("Olt",),
    "RO-PH": ("Prahova",),
    "RO-SB": ("Sibiu",),
    "RO-SJ": ("Sălaj",),
    "RO-SM": ("Satu Mare", "Satu-Mare"),
    "RO-SV": ("Suceava",),
    "RO-TL": ("Tulcea",),
    "RO-TM": ("Timiș",),
    "RO-TR": ("Teleorman",),
    "RO-VL": ("Vâlcea", "Vilcea", "Rimnicu Valcea"),
    "RO-VN": ("Vrancea",),
    "RO-VS": ("Vaslui",),
}

SECTORS = ("SECTOR1", "SECTOR2", "SECTOR3", "SECTOR4", "SECTOR5", "SECTOR6")

# ISO 3166-1 alpha-2 codes accepted by the EN 16931 code list (BR-CL-14).
ISO_ALPHA2 = frozenset(
    """AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS
    BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG
    EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR
    HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR
    LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG
    NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE
    SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA
    UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW""".split()
)

EU_COUNTRIES = frozenset(
    "AT BE BG CY CZ DE DK EE ES FI FR GR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK".split()
)

# alpha-2 -> (alpha-3, names in Romanian and English, with the usual variants).
COUNTRIES: dict[str, tuple[str, tuple[str, ...]]] = {
    # European Union
    "AT": ("AUT", ("Austria", "Österreich")),
    "BE": ("BEL", ("Belgia", "Belgium", "Belgique", "België")),
    "BG": ("BGR", ("Bulgaria",)),
    "CY": ("CYP", ("Cipru", "Cyprus")),
    "CZ": ("CZE", ("Cehia", "Republica Cehă", "Czechia", "Czech Republic", "Česko")),
    "DE": ("DEU", ("Germania", "Germany", "Deutschland", "Republica Federală Germania")),
    "DK": ("DNK", ("Danemarca", "Denmark", "Danmark")),
    "EE": ("EST", ("Estonia", "Eesti")),
    "ES": ("ESP", ("Spania", "Spain", "España")),
    "FI": ("FIN", ("Finlanda", "Finland", "Suomi")),
    "FR": ("FRA", ("Franța", "France")),
    "GR": ("GRC", ("Grecia", "Greece", "Hellas", "Ελλάδα")),
    "HR": ("HRV", ("Croația", "Croatia", "Hrvatska")),
    "HU": ("HUN", ("Ungaria", "Hungary", "Magyarország")),
    "IE": ("IRL", ("Irlanda", "Ireland", "Éire")),
    "IT": ("ITA", ("Italia", "Italy")),
    "LT": ("LTU", ("Lituania", "Lithuania", "Lietuva")),
    "LU": ("LUX", ("Luxemburg", "Luxembourg")),
    "LV": ("LVA", ("Letonia", "Latvia", "Latvija")),
    "MT": ("MLT", ("Malta",)),
    "NL": ("NLD", ("Olanda", "Țările de Jos", "Netherlands", "The Netherlands", "Holland", "Nederland")),
    "PL": ("POL", ("Polonia", "Poland", "Polska")),
    "PT": ("PRT", ("Portugalia", "Portugal")),
    "RO": ("ROU", ("România", "Romania", "Rumania", "Roumanie")),
    "SE": ("SWE", ("Suedia", "Sweden", "Sverige")),
    "SI": ("SVN", ("Slovenia", "Slovenija")),
    "SK": ("SVK", ("Slovacia", "Slovakia", "Slovensko")),
    # Europe outside the EU
    "AD": ("AND", ("Andorra",)),
    "AL": ("ALB", ("Albania",)),
    "AM": ("ARM", ("Armenia",)),
    "AZ": ("AZE", ("Azerbaidjan", "Azerbaijan")),
    "BA": ("BIH", ("Bosnia și Herțegovina", "Bosnia", "Bosnia and Herzegovina")),
    "BY": ("BLR", ("Belarus", "Bielorusia")),
    "CH": ("CHE", ("Elveția", "Switzerland", "Schweiz", "Suisse", "Svizzera", "Confederația Elvețiană")),
    "GB": ("GBR", ("Marea Britanie", "Regatul Unit", "Regatul Unit al Marii Britanii", "United Kingdom",
                   "Great Britain", "Anglia", "England", "Scoția", "Scotland", "Țara Galilor", "Wales", "UK")),
    "GE": ("GEO", ("Georgia",)),
    "IS": ("ISL", ("Islanda", "Iceland")),
    "LI": ("LIE", ("Liechtenstein",)),
    "MC": ("MCO", ("Monaco",)),
    "MD": ("MDA", ("Republica Moldova", "Moldova", "Republic of Moldova", "Basarabia")),
    "ME": ("MNE", ("Muntenegru", "Montenegro")),
    "MK": ("MKD", ("Macedonia de Nord", "North Macedonia", "Macedonia")),
    "NO": ("NOR", ("Norvegia", "Norway", "Norge")),
    "RS": ("SRB", ("Serbia", "Srbija")),
    "RU": ("RUS", ("Rusia", "Federația Rusă", "Russia", "Russian Federation")),
    "SM": ("SMR", ("San Marino",)),
    "TR": ("TUR", ("Turcia", "Turkey", "Türkiye", "Turkiye")),
    "UA": ("UKR", ("Ucraina", "Ukraine")),
    "VA": ("VAT", ("Vatican", "Vatican City", "Holy See", "Sfântul Scaun")),
    # Americas
    "AR": ("ARG", ("Argentina",)),
    "BR": ("BRA", ("Brazilia", "Brazil", "Brasil")),
    "CA": ("CAN", ("Canada",)),
    "CL": ("CHL", ("Chile",)),
    "CO": ("COL", ("Columbia", "Colombia")),
    "MX": ("MEX", ("Mexic", "Mexico", "México")),
    "US": ("USA", ("Statele Unite", "Statele Unite ale Americii", "SUA", "United States",
                   "United States of America", "America", "U.S.A.", "U.S.")),
    # Asia, Africa, Oceania
    "AE": ("ARE", ("Emiratele Arabe Unite", "United Arab Emirates", "EAU", "UAE", "Emirates")),
    "AU": ("AUS", ("Australia",)),
    "CN": ("CHN", ("China", "Republica Populară Chineză", "People's Republic of China", "PRC")),
    "EG": ("EGY", ("Egipt", "Egypt")),
    "HK": ("HKG", ("Hong Kong",)),
    "ID": ("IDN", ("Indonezia", "Indonesia")),
    "IL": ("ISR", ("Israel",)),
    "IN": ("IND", ("India",)),
    "JP": ("JPN", ("Japonia", "Japan")),
    "KR": ("KOR", ("Coreea de Sud", "South Korea", "Korea", "Republic of Korea")),
    "KZ": ("KAZ", ("Kazahstan", "Kazakhstan")),
    "MA": ("MAR", ("Maroc", "Morocco")),
    "MY": ("MYS", ("Malaezia", "Malaysia")),
    "NG": ("NGA", ("Nigeria",)),
    "NZ": ("NZL", ("Noua Zeelandă", "New Zealand")),
    "PH": ("PHL", ("Filipine", "Philippines")),
    "PK": ("PAK", ("Pakistan",)),
    "QA": ("QAT", ("Qatar",)),
    "SA": ("SAU", ("Arabia Saudită", "Saudi Arabia")),
    "SG": ("SGP", ("Singapore",)),
    "TH": ("THA", ("Thailanda", "Thailand")),
    "TN": ("TUN", ("Tunisia",)),
    "TW": ("TWN", ("Taiwan",)),
    "VN": ("VNM", ("Vietnam", "Viet Nam")),
    "ZA": ("ZAF", ("Africa de Sud", "South Africa")),
}

# Codes people write that are not ISO alpha-2 for the country they mean.
_CODE_ALIASES = {"UK": "GB", "EL": "GR"}

_NOT_LETTER_OR_DIGIT = re.compile(r"[^a-z0-9]+")


def _fold(text: str) -> str:
    """Lower case, no diacritics, punctuation turned to spaces, single spaces."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(_NOT_LETTER_OR_DIGIT.sub(" ", stripped.casefold()).split())


def _key(text: str) -> str:
    """The folded text without spaces: "Bistrița - Năsăud" -> "bistritanasaud"."""
    return _fold(text).replace(" ", "")


def _build_county_index() -> dict[str, str]:
    index: dict[str, str] = {}
    for code, names in COUNTIES.items():
        short = code[3:].lower()
        index[short] = code
        index["ro" + short] = code
        for name in names:
            index[_key(name)] = code
    return index


_COUNTY_INDEX = _build_county_index()

# Words that may precede a county name: "jud.", "judetul", "municipiul" and the like.
_COUNTY_PREFIX = re.compile(r"^(?:judetul|judet|jud|jd|j|municipiul|municipiu|mun|mun\.|county of|county)\s+")
_COUNTY_SUFFIX = re.compile(r"\s+(?:county|judet|judetul)$")
_BUCHAREST = re.compile(r"^(?:municipiul\s+|mun\s+|m\s+)?(?:bucuresti|bucharest|bucurest|buc)\b")
_SECTOR = re.compile(r"\bsect(?:or(?:ul)?)?\s*([1-6])\b")
_SECTOR_SHORT = re.compile(r"^s\s*([1-6])$")


def county_code(text: str | None) -> str | None:
    """ISO 3166-2:RO code of a Romanian county as a user wrote it, or None when unknown.

    >>> county_code("jud. Cluj"), county_code("Mun. București"), county_code("RO-CJ")
    ('RO-CJ', 'RO-B', 'RO-CJ')
    """
    folded = _fold(text or "")
    if not folded:
        return None
    if _BUCHAREST.match(folded) or _SECTOR.fullmatch(folded) or _SECTOR_SHORT.match(folded):
        return "RO-B"
    candidates = [folded]
    stripped = _COUNTY_SUFFIX.sub("", _COUNTY_PREFIX.sub("", folded))
    if stripped != folded:
        candidates.append(stripped)
    for candidate in candidates:
        found = _COUNTY_INDEX.get(candidate.replace(" ", ""))
        if found:
            return found
    return None


def bucharest_sector(text: str | None) -> str | None:
    """"SECTOR1".."SECTOR6" when the text names a Bucharest sector ("Sector 3", "sectorul 3", "S3")."""
    folded = _fold(text or "")
    if not folded:
        return None
    match = _SECTOR.search(folded) or _SECTOR_SHORT.match(folded)
    if match:
        return f"SECTOR{match.group(1)}"
    return None


def _build_country_index() -> dict[str, str]:
    index: dict[str, str] = {}
    for alpha2, (alpha3, names) in COUNTRIES.items():
        index[alpha3.lower()] = alpha2
        for name in names:
            index[_key(name)] = alpha2
    return index


_COUNTRY_INDEX = _build_country_index()


def country_code(text: str | None) -> str | None:
    """ISO 3166-1 alpha-2 code of a country name or code, or None when unknown.

    >>> country_code("România"), country_code("ROU"), country_code("Germania"), country_code("EL")
    ('RO', 'RO', 'DE', 'GR')
    """
    raw = (text or "").strip()
    if not raw:
        return None
    upper = raw.upper()
    if len(upper) == 2 and upper.isalpha():
        if upper in _CODE_ALIASES:
            return _CODE_ALIASES[upper]
        return upper if upper in ISO_ALPHA2 else None
    key = _key(raw)
    if key in _COUNTRY_INDEX:
        return _COUNTRY_INDEX[key]
    if key.startswith("the") and key[3:] in _COUNTRY_INDEX:
        return _COUNTRY_INDEX[key[3:]]
    return None


def is_eu(code: str | None) -> bool:
    """True for the alpha-2 code of an EU member state ("EL" counts as Greece)."""
    if not code:
        return False
    upper = code.strip().upper()
    return _CODE_ALIASES.get(upper, upper) in EU_COUNTRIES


def vat_prefix(code: str) -> str:
    """The prefix of VAT numbers issued by a country: the alpha-2 code, except Greece's "EL"."""
    upper = code.strip().upper()
    upper = _CODE_ALIASES.get(upper, upper)
    return "EL" if upper == "GR" else upper


__all__ = [
    "COUNTIES",
    "COUNTRIES",
    "EU_COUNTRIES",
    "ISO_ALPHA2",
    "SECTORS",
    "bucharest_sector",
    "country_code",
    "county_code",
    "is_eu",
    "vat_prefix",
]
