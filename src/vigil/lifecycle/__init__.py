"""A member's keys over their whole life: rotation, expiry, revocation on compromise,
recovery with a pre-registered key, and re-wrapping held shares to a new key
(docs/keys.md). ``book`` is what the node reads, ``actions`` what it changes,
``statements`` what a member's client signs, ``client_side`` what the client does."""
