"""The one policy function that decides every outbound path."""

from vigil.policy.decide import (
    decide,
    decide_correlation_hint,
    decide_log_entry,
    decide_publish,
    decide_read,
    decide_recall_notice,
    decide_sighting_counts,
    sighting_reporter_shown,
    visible_channels,
)

__all__ = [
    "decide",
    "decide_correlation_hint",
    "decide_log_entry",
    "decide_publish",
    "decide_read",
    "decide_recall_notice",
    "decide_sighting_counts",
    "sighting_reporter_shown",
    "visible_channels",
]
