"""Money: integers in minor units of an ISO 4217 currency, parsed from and printed as decimal strings."""

from __future__ import annotations

from domain.exceptions import InvalidAmount, UnknownCurrency
from domain.values import plain_decimal

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

MAX_WHOLE_DIGITS = 15  # a quadrillion units: far above any deal, and within BIGINT minor units


def exponent(currency: str, *, field: str = "currency") -> int:
    """The number of decimals of an ISO 4217 currency."""
    if not isinstance(currency, str) or currency not in EXPONENTS:
        raise UnknownCurrency(f"{currency!r} is not an ISO 4217 currency code", field=field)
    return EXPONENTS[currency]


def parse_amount(value: object, currency: str, *, field: str = "amount") -> int:
    """A positive decimal string (or int) in `currency` -> integer minor units, exactly."""
    places = exponent(currency)
    if isinstance(value, str) and value.strip().startswith("-"):
        raise InvalidAmount(f"must be positive, got {value.strip()[:40]}", field=field)
    number = plain_decimal(value, field, places=places, error=InvalidAmount, what="amount")
    if number >= 10**MAX_WHOLE_DIGITS:
        raise InvalidAmount(f"{number} is too large (over {MAX_WHOLE_DIGITS} digits)", field=field)
    _, digits, power = number.as_tuple()
    minor = int("".join(map(str, digits))) * 10 ** (power + places)  # no context rounding
    if minor <= 0:
        raise InvalidAmount(f"must be positive, got {number}", field=field)
    return minor


def format_amount(minor: int, currency: str) -> str:
    """Integer minor units -> decimal string with the currency's decimals ("1250.00")."""
    places = exponent(currency)
    sign = "-" if minor < 0 else ""
    whole, part = divmod(abs(minor), 10**places)
    return f"{sign}{whole}.{part:0{places}d}" if places else f"{sign}{whole}"
