"""Python SDK over HTTP. Signs and seals on the client when it holds the member's keyring.

    from vigil.client import Client
    with Client("http://127.0.0.1:8470", token, keyring=load_keyring(path, passphrase)) as c:
        receipt = c.publish(bundle_bytes, tlp="amber", to=["ops-group"])
        for item in c.inbox():
            share = c.get(item.share_id)     # verified, decrypted

``Client`` is put together from one class per part of the API, each in its own module
and each building on the parts it calls:

- ``session``: the transport, the calls and what the client keeps between them;
- ``proofs``: the node's log (checkpoints, inclusion proofs, the watch of its entries);
- ``directory``: members (keys taken with their log proof), channels, signature checks;
- ``receipts``: signed receipts and recalls;
- ``channel_keys``: channel keys and blind tokens;
- ``publish``: preview, checks and publishing;
- ``shares``: a share fetched, verified and opened; sightings and the ledger;
- ``inbox``: the inbox, paged and live.
"""

from __future__ import annotations

from vigil.client.errors import Refused, ServerError, error_class
from vigil.client.inbox import Inbox, InboxItem, NoticeStream, Reading, Stream
from vigil.client.proofs import LogEvent, LogWatch
from vigil.client.publish import Publishing
from vigil.client.shares import Share, Shares

__all__ = ["Client", "Inbox", "InboxItem", "LogEvent", "LogWatch", "NoticeStream", "Refused",
           "ServerError", "Share", "Stream", "error_class"]


class Client(Publishing, Shares, Reading):
    """A member's connection to a node (see the module's docstring)."""
