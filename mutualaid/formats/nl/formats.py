# As in English (mutualaid/formats/en), with Dutch month names in lower case: "3 dec 2026, 20:21".
DATE_FORMAT = "j F Y"
DATETIME_FORMAT = "j F Y, H:i"
SHORT_DATE_FORMAT = "j b Y"
SHORT_DATETIME_FORMAT = "j b Y, H:i"
TIME_FORMAT = "H:i"
FIRST_DAY_OF_WEEK = 1
# A time window: "do 3 dec", "jeu 3 déc" (TimeWindow.__str__).
MONTH_DAY_FORMAT = "D j b"
