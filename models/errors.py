"""Errors that the CLI turns into one readable line instead of a traceback."""


class TriageError(Exception):
    """Base class for user-facing errors: bad flags, missing files, bad input, bad models."""


class ModelPackageError(TriageError):
    """A model package is missing, incomplete, or fails its checksum verification."""
