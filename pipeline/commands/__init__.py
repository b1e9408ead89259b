"""One module per `triage` subcommand; each exposes ``register(subparsers)``.

A module's ``register`` adds its parser and sets ``func`` (called with the parsed
namespace, returns an exit code). Heavy imports (Beam, ONNX Runtime) stay inside the
functions so that ``triage --help`` is instant.
"""
