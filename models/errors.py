"""Errors that the CLI turns into one readable line instead of a traceback."""


class TriageError(Exception):
    """Base class for user-facing errors: bad flags, missing files, bad input, bad models."""


class ModelPackageError(TriageError):
    """A model package is missing, incomplete, or fails its checksum verification."""


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type name when it has none): library
    errors such as ONNX Runtime's span many lines, a user-facing error is one."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
