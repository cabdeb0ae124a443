"""vigil: a threat-intelligence exchange with signed, sealed, immediate and fair sharing."""

__version__ = "0.1.0"
