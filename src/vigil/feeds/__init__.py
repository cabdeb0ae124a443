"""Feeds: external TAXII 2.1 collections a node pulls from and pushes to.

* :mod:`vigil.feeds.registry` — the feed rows, cursors, seen objects and rejects in the
  node's store (SQLite and PostgreSQL alike);
* :mod:`vigil.feeds.remote` — the TAXII 2.1 client side (``taxii2-client``);
* :mod:`vigil.feeds.pull` — pull a feed and publish what it holds as a member;
* :mod:`vigil.feeds.push` — send a channel's shares to an external collection;
* :mod:`vigil.feeds.scheduler` — the background task of ``vigil serve``.
"""
