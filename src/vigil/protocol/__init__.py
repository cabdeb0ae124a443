"""The wire, shared by the node and the member side: the signed and sealed envelope, member
receipts and recalls, blind correlation tokens. Nothing here imports node code."""
