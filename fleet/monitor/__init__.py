"""Layer 4, monitoring: SNMP poller (engines, fast BER decoding, profiles) and, beside it, the
health rules.  The poller's public API is re-exported here."""

from __future__ import annotations

from fleet.monitor.poller import Poller, Sample, in_shard, poll_devices, poll_sharded
from fleet.monitor.profiles import Profile, ProfileSet, load_profiles

__all__ = [
    "Poller",
    "Profile",
    "ProfileSet",
    "Sample",
    "in_shard",
    "load_profiles",
    "poll_devices",
    "poll_sharded",
]
