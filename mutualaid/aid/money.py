"""Amounts of money as each language of the service writes euros in Belgium.

The digits come from Django's localisation (the decimal comma of nl and fr); where the
sign goes is the language's `CURRENCY_FORMAT` in mutualaid/formats/<language>/formats.py:
"€ 12,50" in Dutch, "12,50 €" in French, "€12.50" in English (no-break spaces, so the sign
never ends up alone on a line).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.utils.formats import get_format_modules, number_format

DEFAULT_CURRENCY_FORMAT = "€{amount}"


def currency_format() -> str:
    for module in get_format_modules():
        pattern = getattr(module, "CURRENCY_FORMAT", None)
        if pattern:
            return pattern
    return DEFAULT_CURRENCY_FORMAT


def format_money(amount: Decimal | int | float | str) -> str:
    """An amount in euros, with cents, in the active language's convention."""
    return currency_format().format(amount=number_format(Decimal(amount), decimal_pos=2, use_l10n=True))


def parse_money(text: str) -> Decimal:
    """What people type: "12,50", "12.50", "€ 12,50", "12,50 €"; InvalidOperation if none of it.

    The last comma or point is the decimal one (a thousands separator before it is dropped).
    """
    cleaned = text.replace("€", "").replace("\xa0", "").replace(" ", "").strip()
    if not cleaned:
        raise InvalidOperation(text)
    last = max(cleaned.rfind(","), cleaned.rfind("."))
    if last >= 0:
        whole, cents = cleaned[:last], cleaned[last + 1 :]
        cleaned = whole.replace(",", "").replace(".", "") + "." + cents
    return Decimal(cleaned)
