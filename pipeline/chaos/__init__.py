"""Fault-injection tooling: fuzzed messages with known outcomes, the job as a killable process,
scenarios that count what was lost, duplicated or dead-lettered.

Shared by ``tests/chaos/`` (CI sizes) and ``benchmarks/chaos.py`` (full runs). Nothing here is on
the job's path: it drives the real job (``python -m pipeline.cli run``) against a real broker
from the outside and reads what the job really wrote (:class:`pipeline.watch.OutputWatcher`).
"""
