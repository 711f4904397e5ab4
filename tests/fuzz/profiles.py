"""Hypothesis profiles of the fuzz suite, chosen by ``HAR_FUZZ_PROFILE`` (default ``ci``).

``ci`` (``make test``): 50 examples per format at the reader level, derandomised so CI is
repeatable. ``fuzz`` (``make fuzz``): 500 per format, fresh random examples each time. The
entrypoint runs a whole (tiny) trial per example, so it gets a tenth of the examples.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

PROFILE_ENV = "HAR_FUZZ_PROFILE"
_COMMON = {
    "deadline": None,  # a reader's first call pays imports and the one-off tree copy
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
    "print_blob": True,
}
settings.register_profile("ci", max_examples=50, derandomize=True, database=None, **_COMMON)
settings.register_profile("fuzz", max_examples=500, **_COMMON)

READERS = settings.get_profile(os.environ.get(PROFILE_ENV, "ci"))
ENTRYPOINT = settings(READERS, max_examples=max(6, READERS.max_examples // 10))
