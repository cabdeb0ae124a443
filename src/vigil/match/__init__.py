"""Private matching of selectors (phone numbers, bank accounts, wallets, passports,
e-mail addresses): "does any member hold this?" answered with an RFC 9497 OPRF that
each holder's client evaluates with a key the node never sees (docs/analysis.md,
"Private selector matching")."""
