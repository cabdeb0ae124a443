"""Who may act for a member: users and administrators (``users``), API tokens (``tokens``),
client certificates (``certs``), OpenID Connect (``sso``), passkeys (``passkeys``), and the
sign-in events a member's administrators read (``audit``)."""
