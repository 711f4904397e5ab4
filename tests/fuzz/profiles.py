"""Hypothesis profiles of the fuzz suite, chosen by ``HAR_FUZZ_PROFILE`` (default ``ci``).

``ci`` (``make test``): 50 examples per format at the reader level, derandomised so CI is
repeatable. ``fuzz`` (``make fuzz``): 500 per format, fresh random examples each time. The
entrypoint and config fuzzers run a whole (tiny) trial per example: 3 per format in ``ci``, a
tenth of the readers' count in ``fuzz``.
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

PROFILE = os.environ.get(PROFILE_ENV, "ci")
READERS = settings.get_profile(PROFILE)
# A whole trial per example (~5 s on 2 busy cores): a handful in `make test`, 50 in `make fuzz`.
ENTRYPOINT = settings(READERS, max_examples=3 if PROFILE == "ci" else READERS.max_examples // 10)
