"""The commands that live in the other modules of this package, beside ``main``: what
the root group, ``vigil member`` and ``vigil user`` import only when one of them is run
(``vigil.cli.lazy``). One entry per command: its name -> (``"module:object"``, the first
sentence of its help)."""

from __future__ import annotations

from vigil.cli.lazy import Lazy

COMMANDS: dict[str, Lazy] = {
    "audit": ("tokens:audit_cmd", "A member's sign-in events: sign-ins, failed sign-ins, "
              "tokens created, rotated and revoked."),
    "backup": ("backup:backup", "Back this node up into the new directory DEST while it "
               "runs: the store (SQLite's backup API, or pg_dump), the data directory's "
               "files, and a signed checkpoint of the log in the copy."),
    "channel-key": ("ledger:channel_key", "Channel keys for blind correlation of sealed "
                    "shares (opened with --keyring)."),
    "consent": ("intel:consent_group", "Ask an originator for a use its handling forbids; "
                "grant or refuse one."),
    "correlate": ("analysis:correlate", "Re-correlation of this node's store (run on the "
                  "node)."),
    "correlations": ("analysis:correlations", "Your correlation notices after a cursor "
                     "(JSON; resume with --after NEXT)."),
    "directory": ("trust:directory", "The key directory of members of other nodes "
                  "(docs/federation.md)."),
    "doctor": ("doctor:doctor", "Check the node's configuration, file modes, durability "
               "settings, clock and store and bus; say what to fix."),
    "export": ("interop:export_group", "Export intelligence to other formats."),
    "feed": ("feed:feed", "Feeds: external TAXII 2.1 collections this node pulls from or "
             "pushes to."),
    "gateway": ("feed:gateway", "Follow the node's inbox with the member's own keys and "
                "serve the opened shares as plain STIX on a local, read-only TAXII 2.1 "
                "endpoint."),
    "import": ("interop:import_group", "Import intelligence from other formats."),
    "key": ("keys:key", "Keys over their life: rotation, expiry, revocation, recovery, "
            "re-wrapping."),
    "ledger": ("ledger:ledger", "The reciprocity ledger over the shares you may read: per "
               "member, per channel."),
    "log": ("log:log_group", "The node's transparency log: checkpoints, proofs, audit, "
            "gossip."),
    "match": ("intel:match_group", "Private selector matching (RFC 9497 OPRF; the key "
              "stays in --match-key)."),
    # the group as vigil.cli.trust leaves it: with `peer alarms` and `peer decide`
    "peer": ("trust:peer", "Peer this node with other nodes (docs/federation.md)."),
    "purge": ("accountability:purge", "Run one retention pass on this node now (the server "
              "runs one every retention_interval seconds): expired shares lose payload, "
              "wraps and inbox rows; the log keeps their entries and records each purge."),
    "recall": ("accountability:recall", "Recall a share you published: the node removes its "
               "payload and tells every recipient, whose clients drop it and acknowledge."),
    "receipts": ("accountability:receipts", "Who received and opened a share you published, "
                 "and who acknowledged its recall."),
    "restore": ("backup:restore", "Restore the backup SRC as the node of the data directory "
                "(which must hold no node), then check the store against the log and the "
                "checkpoints."),
    "roster": ("roster:roster", "The roster of nodes (docs/federation.md)."),
    "search": ("analysis:search", "Shares you may read that hold VALUE (an IP address or "
               "network, domain, URL, e-mail address, hash, ASN, wallet, or kind:value; "
               "defanged values are accepted)."),
    "sighting": ("ledger:sighting", "Sightings: tell an indicator's originator you saw it, "
                 "or that it is wrong."),
    "sso": ("sso:sso_group", "Single sign-on for the console: OpenID providers and whom "
            "they may sign in."),
    "use": ("intel:use_cmd", "Declare a use of a share: refused (policy.grant_required) "
            "when its handling forbids it and the originator has not granted it."),
    "warninglist": ("analysis:warninglist", "Warninglists: known-benign values that raise "
                    "no correlation."),
}
MEMBER_COMMANDS: dict[str, Lazy] = {
    "activate": ("access:member_activate", "Reactivate a deactivated member (logged)."),
    "deactivate": ("access:member_deactivate", "Deactivate a member: none of its users "
                   "authenticates any longer, its sessions end and its open streams stop "
                   "delivering (logged)."),
    "set": ("sso:member_set", "Change a member's sign-in policy."),
}
USER_COMMANDS: dict[str, Lazy] = {
    "admin": ("access:user_admin", "Make a user an admin of its member: through the API it "
              "may then revoke the member's users and deactivate the member."),
    "cert": ("tokens:user_cert", "Client certificates standing for users (vigil serve "
             "--tls-client-ca)."),
    "list": ("access:user_list", "List a member's users, revoked ones included."),
    "revoke": ("access:user_revoke", "Revoke a user's token (by user name, id, the token or "
               "its first 12 characters as listings and logs show them): API calls with it "
               "answer 401 at once, its console sessions end, and its open streams stop "
               "delivering."),
    "rotate": ("tokens:user_rotate", "Give a user a new token; the old one, its console "
               "sessions and its open streams end at once (recorded)."),
    "tokens": ("tokens:user_tokens", "List the tokens of a member's users (or of one user): "
               "prefix, scope, expiry, revoked or expired."),
}
