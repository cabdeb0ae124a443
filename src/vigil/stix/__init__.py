"""STIX 2.1 handling: strict JSON, validation, TLP markings, summaries."""
