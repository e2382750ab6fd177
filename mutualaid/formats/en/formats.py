# "3 Dec 2026, 20:21", never "12/03/2026 8:21 p.m.": the day-first conventions of the other
# languages, with English's capitalised month names.
from mutualaid.formats.day_first import *  # noqa: F403

SHORT_DATE_FORMAT = "j M Y"
SHORT_DATETIME_FORMAT = "j M Y, H:i"
# A time window: "Thu 3 Dec" (TimeWindow.__str__).
MONTH_DAY_FORMAT = "D j M"

# Money: "€12.50" (mutualaid/aid/money.py).
CURRENCY_FORMAT = "€{amount}"
