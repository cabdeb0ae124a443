"""The member side: a member's program talking to a node over HTTP (``http``), TLS with
client certificates and pins (``tls``), and the member's audit of the node's log
(``audit``). It imports the wire (``vigil.protocol``), keys (``vigil.crypto``), STIX checks
and plain types, never node code (``tests/test_layout.py`` checks it), so it verifies
everything the node tells it.

    from vigil.client import Client
    with Client("http://127.0.0.1:8470", token, keyring=load_keyring(path, passphrase)) as c:
        receipt = c.publish(bundle_bytes, tlp="amber", to=["ops-group"])
"""

from vigil.client.http import (
    Client,
    Inbox,
    InboxItem,
    LogEvent,
    LogWatch,
    NoticeStream,
    Refused,
    ServerError,
    Share,
    Stream,
)

__all__ = ["Client", "Inbox", "InboxItem", "LogEvent", "LogWatch", "NoticeStream", "Refused",
           "ServerError", "Share", "Stream"]
