"""The one policy function that decides every outbound path."""

from vigil.policy.decide import decide, decide_publish, decide_read, visible_channels

__all__ = ["decide", "decide_publish", "decide_read", "visible_channels"]
