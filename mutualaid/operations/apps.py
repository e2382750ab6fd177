from django.apps import AppConfig

from mutualaid.operations.forks import start_afresh_after_fork


class OperationsConfig(AppConfig):
    """Probes, metrics, logs and serving: what an operator runs and watches."""

    name = "mutualaid.operations"
    label = "operations"
    verbose_name = "Operations"

    def ready(self) -> None:
        start_afresh_after_fork()
