from mutualaid.formats.day_first import *  # noqa: F403

# Money: "€ 12,50" (a no-break space), mutualaid/aid/money.py.
CURRENCY_FORMAT = "€\N{NO-BREAK SPACE}{amount}"
