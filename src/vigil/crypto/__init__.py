"""vigil's cryptography: key ids, canonical JSON, domain-separated signatures, sealing
and the member keyring. Pure functions over bytes on top of ``cryptography`` and
``rfc8785``; no hand-written primitives. The wire format is stated in docs/protocol.md.
"""
