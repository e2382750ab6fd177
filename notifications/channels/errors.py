"""What a channel raises besides a passing failure."""


class AddressGone(Exception):
    """The address will never take the message (a push subscription the push service
    dropped): not retried, and not counted as a failure of the service."""
