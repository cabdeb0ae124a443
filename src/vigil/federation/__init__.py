"""Federation: nodes of different states peer and form one exchange (docs/federation.md).

``descriptor`` (the node's signed self-description), ``codec`` (signed requests,
batches, acks), ``peers`` (pinned peering), ``outbox`` (what goes to which node, written
in the transaction of the event), ``kinds`` (the item kinds a batch carries),
``receiver`` (verify and apply a batch in one transaction), ``sender`` (push, pull,
heartbeats), ``status`` (what operators read).
"""
