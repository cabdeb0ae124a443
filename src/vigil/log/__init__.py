"""vigil's transparency log, as a pure library (no storage): the RFC 9162 Merkle tree,
inclusion and consistency proofs served from a store of perfect subtrees
(:mod:`vigil.log.merkle`), C2SP signed notes (:mod:`vigil.log.note`) and signed
checkpoints with fork evidence (:mod:`vigil.log.checkpoint`).
"""
