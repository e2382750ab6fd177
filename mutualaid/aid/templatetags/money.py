"""`{{ amount|money }}`: euros as the reader's language writes them (mutualaid/aid/money.py)."""

from django import template

from mutualaid.aid.money import format_money

register = template.Library()


@register.filter
def money(amount) -> str:
    return "" if amount is None or amount == "" else format_money(amount)
