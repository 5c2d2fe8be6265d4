"""The sample persona for tests that train on it."""

from __future__ import annotations


def ensure_heldout(pipe) -> None:
    """Make sure some of the person's records fall in the held-out slice.

    Memories get random ids, and the slice is about 1 record in 10 by a hash of the id, so
    about one sample home in 14 (0.9 ** 25) has none of its 25 records held out, and training
    rightly refuses to run (it could not judge the adapter). Spare notes are added until one
    lands there, so the tests that train on the sample persona run every time.
    """
    from persona.core.train.heldout import is_heldout

    n = 0
    while not any(is_heldout(m) for m in pipe.store.all_memories()
                  if m.speaker != "assistant"):
        n += 1
        pipe.remember_text(f"Spare note {n}: after work I walked along the harbour and "
                           f"watched the ferries come in.")
