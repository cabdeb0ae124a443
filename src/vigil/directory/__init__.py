"""The key directory: a witnessed log, per node, of the keys of the members it hosts.

- :mod:`vigil.directory.entries` -- signed entries (register, rotate, revoke, recover,
  rehome) and the rules that chain them;
- :mod:`vigil.directory.log` -- the node's directory log (RFC 9162 tree, C2SP
  checkpoints), witnessed like the main log;
- :mod:`vigil.directory.lookup` -- a lookup answer (entries, inclusion proofs, a
  checkpoint with k cosignatures) and its verification by whoever asks;
- :mod:`vigil.directory.monitor` -- a member's client watching its own entries;
- :mod:`vigil.directory.revocation` -- revocation points, enforced on every node.
"""
