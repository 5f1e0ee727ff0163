"""Foreign-exchange rates: the BNR (National Bank of Romania) reference-rate feed."""

from punte.fx.bnr import (
    BNR_PUBLICATION_HOUR,
    BnrClient,
    BnrFeedError,
    Rates,
    expected_publication,
    latest_expected_publication,
    parse_bnr_xml,
    rate_on,
)

__all__ = [
    "BNR_PUBLICATION_HOUR",
    "BnrClient",
    "BnrFeedError",
    "Rates",
    "expected_publication",
    "latest_expected_publication",
    "parse_bnr_xml",
    "rate_on",
]
