from django.db import migrations

# The demo's codes, which the communities set up so far kept.
EXPENSE_CATEGORY_SLUGS = ("shopping", "pharmacy")


def flag_expense_categories(apps, schema_editor):
    Category = apps.get_model("aid", "Category")
    Category.objects.filter(slug__in=EXPENSE_CATEGORY_SLUGS).update(carries_expenses=True)


def unflag_expense_categories(apps, schema_editor):
    Category = apps.get_model("aid", "Category")
    Category.objects.filter(slug__in=EXPENSE_CATEGORY_SLUGS).update(carries_expenses=False)


class Migration(migrations.Migration):
    dependencies = [("aid", "0020_closing_the_loop")]

    operations = [migrations.RunPython(flag_expense_categories, unflag_expense_categories)]
