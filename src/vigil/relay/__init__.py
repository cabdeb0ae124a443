"""Relaying between nodes that do not peer: the relay learns the next hop, a padded
size and a time, nothing else.

- :mod:`vigil.relay.hop` -- sealing a whole signed batch to the destination's hop key
  (HPKE), padded to a power-of-two bucket;
- :mod:`vigil.relay.forward` -- the relay: keeps (hop id, destination, bucket, time),
  holds the sealed bytes in memory only, forwards;
- :mod:`vigil.relay.receipts` -- receipts sent back in batches at fixed ticks.
"""
