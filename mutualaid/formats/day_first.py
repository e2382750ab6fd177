# The service's date conventions in every language (Belgian): day first, a 24-hour clock,
# weeks from Monday, month names in lower case as Dutch and French write them:
# "3 dec 2026, 20:21", "3 déc 2026, 20:21". English capitalises its months (en/formats.py).
DATE_FORMAT = "j F Y"
DATETIME_FORMAT = "j F Y, H:i"
SHORT_DATE_FORMAT = "j b Y"
SHORT_DATETIME_FORMAT = "j b Y, H:i"
TIME_FORMAT = "H:i"
FIRST_DAY_OF_WEEK = 1
# A time window: "do 3 dec", "jeu 3 déc" (TimeWindow.__str__).
MONTH_DAY_FORMAT = "D j b"
