# Belgian conventions in English: "3 Dec 2026, 20:21", never "12/03/2026 8:21 p.m."
# (the service's people read dates day first, on a 24-hour clock, weeks from Monday).
DATE_FORMAT = "j F Y"
DATETIME_FORMAT = "j F Y, H:i"
SHORT_DATE_FORMAT = "j M Y"
SHORT_DATETIME_FORMAT = "j M Y, H:i"
TIME_FORMAT = "H:i"
# A time window: "Thu 3 Dec" (TimeWindow.__str__).
MONTH_DAY_FORMAT = "D j M"
FIRST_DAY_OF_WEEK = 1
