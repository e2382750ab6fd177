from mutualaid.formats.day_first import *  # noqa: F403
