"""The node: its data directory and how it opens (``datadir``), the exchange's use cases
(``exchange``), the built-in features every opened exchange gets (``features``), receipts,
recalls and retention (``accountability``, ``retention``), backup and the operator's checks
(``backup``, ``doctor``)."""
