"""Object uids: version 4 UUIDs, formatted by hand exactly as ``uuid.UUID`` prints them."""

from __future__ import annotations

import random
import uuid

from ksched.apiserver.registry import _uid


def test_uids_are_the_version_4_uuid_of_the_same_random_bits() -> None:
    for _ in range(5000):
        state = random.getstate()
        ours = _uid()
        random.setstate(state)
        theirs = uuid.UUID(int=random.getrandbits(128), version=4)
        assert ours == str(theirs)
        assert uuid.UUID(ours).version == 4 and uuid.UUID(ours).variant == uuid.RFC_4122
