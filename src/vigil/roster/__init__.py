"""The roster of nodes: who belongs to the exchange, changed only by a threshold of it.

- :mod:`vigil.roster.statements` -- signed ``vigil/roster/v1`` statements (genesis,
  admit, expel, rekey) and the threshold ceil(2n/3);
- :mod:`vigil.roster.roster` -- the roster every node keeps, applies, compares with its
  peers' heads and checks every peer against.
"""
