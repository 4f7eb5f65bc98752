"""The flow package's error type: a user error (bad backend name, option, frame or checkpoint) with one sentence."""


class FlowError(ValueError):
    """A flow backend cannot be built or run as asked; the message names the problem and the fix."""
