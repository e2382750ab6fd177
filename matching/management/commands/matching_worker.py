"""`manage.py matching_worker`: the earlier name of `manage.py worker`, kept as an alias."""

from worker.management.commands.worker import Command as WorkerCommand


class Command(WorkerCommand):
    help = "The same as `manage.py worker` (its earlier name)."
