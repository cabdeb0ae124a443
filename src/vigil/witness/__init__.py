"""Every peer node a witness of every other: C2SP tlog-witness and cosignature/v1.

- :mod:`vigil.protocol.cosignature` -- Ed25519 ``cosignature/v1`` note signatures (member side too);
- :mod:`vigil.witness.wire` -- the ``add-checkpoint`` request and response bodies;
- :mod:`vigil.witness.service` -- the witness: one latest checkpoint per log, compared
  and updated atomically, bad requests kept as evidence;
- :mod:`vigil.protocol.witnessing` -- k of n, and checking a quorum (member side too);
- :mod:`vigil.witness.collector` -- the log side: submit, follow 409s, keep cosignatures;
- :mod:`vigil.witness.alarms` -- fork alarms: evidence, refusal of the node, decisions.
"""
