"""Importers: plain IOC lists and abuse.ch CSV dumps to STIX 2.1."""
