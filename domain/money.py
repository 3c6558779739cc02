"""Money: integers in minor units of an ISO 4217 currency, parsed from and printed as decimal strings."""

from __future__ import annotations

import re

from domain.exceptions import InvalidAmount, UnknownCurrency

# ISO 4217 active codes with their minor-unit exponent (the standard's "E" column).
_EXPONENT_0 = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"
_EXPONENT_3 = "BHD IQD JOD KWD LYD OMR TND"
_EXPONENT_4 = "CLF UYW"
_EXPONENT_2 = (
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN BWP "
    "BYN BZD CAD CDF CHE CHF CHW CNY COP COU CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD "
    "FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD "
    "KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD "
    "NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP "
    "SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD USN UZS VED VES "
    "WST XCD XCG YER ZAR ZMW ZWG"
)
EXPONENTS: dict[str, int] = {
    **{c: 0 for c in _EXPONENT_0.split()},
    **{c: 2 for c in _EXPONENT_2.split()},
    **{c: 3 for c in _EXPONENT_3.split()},
    **{c: 4 for c in _EXPONENT_4.split()},
}

_DECIMAL = re.compile(r"^[0-9]+(\.[0-9]+)?$")
MAX_WHOLE_DIGITS = 15  # a quadrillion units: far above any deal, and within BIGINT minor units


def exponent(currency: str, *, field: str = "currency") -> int:
    """The number of decimals of an ISO 4217 currency."""
    if not isinstance(currency, str) or currency not in EXPONENTS:
        raise UnknownCurrency(f"{currency!r} is not an ISO 4217 currency code", field=field)
    return EXPONENTS[currency]


def parse_amount(value: object, currency: str, *, field: str = "amount") -> int:
    """A positive decimal string (or int) in `currency` -> integer minor units."""
    places = exponent(currency)
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InvalidAmount(f"must be a decimal string such as \"1250.00\", got {value!r}", field=field)
    text = str(value).strip()
    if text.startswith("-"):
        raise InvalidAmount(f"must be positive, got {text}", field=field)
    if not _DECIMAL.match(text):
        raise InvalidAmount(f"{text!r} is not a decimal number", field=field)
    whole, _, fraction = text.partition(".")
    if len(fraction) > places:
        raise InvalidAmount(
            f"{text} has {len(fraction)} decimals; {currency} has {places}", field=field
        )
    if len(whole.lstrip("0")) > MAX_WHOLE_DIGITS:
        raise InvalidAmount(f"{text} is too large (over {MAX_WHOLE_DIGITS} digits)", field=field)
    minor = int(whole) * 10**places + int(fraction.ljust(places, "0") or "0")
    if minor <= 0:
        raise InvalidAmount(f"must be positive, got {text}", field=field)
    return minor


def format_amount(minor: int, currency: str) -> str:
    """Integer minor units -> decimal string with the currency's decimals ("1250.00")."""
    places = exponent(currency)
    sign = "-" if minor < 0 else ""
    whole, part = divmod(abs(minor), 10**places)
    return f"{sign}{whole}.{part:0{places}d}" if places else f"{sign}{whole}"
