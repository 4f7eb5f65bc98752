"""The flow package's error type (a user error: bad backend name, option, frame or checkpoint, in one sentence) and
the option check every backend uses."""


class FlowError(ValueError):
    """A flow backend cannot be built or run as asked; the message names the problem and the fix."""


def check_options(backend: str, options: dict, known, extra: tuple[str, ...] = ()) -> None:
    """Raise FlowError naming the options of ``options`` that are not in ``known`` (``extra``: other accepted
    keywords, listed in the message too). One check for every backend."""
    unknown = sorted(set(options) - set(known))
    if unknown:
        valid = sorted([*known, *extra])
        raise FlowError(f"unknown option(s) {unknown} for flow backend {backend!r}; valid: {valid}")
