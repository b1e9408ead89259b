"""Which input partitions a job replica owns: N copies of the job share one topic, no overlap.

Replica ``I`` of ``N`` reads, and commits offsets for, exactly the partitions ``p`` with
``p mod N = I``. The assignment is static (no consumer-group rebalancing: readers are
``assign()``-ed), so a killed replica's partitions wait for it to come back with the same
index, and it resumes from their committed offsets. A Kubernetes StatefulSet gives each pod a
stable ordinal to use as the index (``deploy/k8s/statefulset.yaml``).
"""

from __future__ import annotations

from models.errors import TriageError


def owned_partitions(partitions: int, replicas: int = 1, replica: int = 0) -> list[int]:
    """The partitions of a ``partitions``-partition topic that replica ``replica`` reads.

    Raises TriageError when the index is out of range or the replica would own nothing (more
    replicas than partitions: the extra ones would idle, or end at once when bounded).
    """
    if replicas < 1 or not 0 <= replica < replicas:
        raise TriageError(f"replica {replica} of {replicas}: the index must be 0..{replicas - 1}")
    owned = [p for p in range(partitions) if p % replicas == replica]
    if not owned:
        raise TriageError(
            f"replica {replica} of {replicas} owns no partition: the topic has {partitions}, "
            f"so run at most {partitions} replicas"
        )
    return owned
