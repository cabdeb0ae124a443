"""TAXII 2.1 over vigil's exchange: collections are policy-filtered views of shares."""
