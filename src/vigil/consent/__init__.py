"""Consent grants: a recipient asks a share's originator for a use its handling forbids
(forward, court, retain); the originator answers with a signed grant or refusal; both
are logged, and the access gate honours grants in force on every path."""
