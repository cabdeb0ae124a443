"""Collective analysis: observables, their index and correlation between shares."""
