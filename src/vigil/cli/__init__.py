"""`vigil`, the command line: the root group and node administration in ``main``, one
module per command group beside it, what they share in ``base``."""
