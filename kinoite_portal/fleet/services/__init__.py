"""Writes for the fleet: enrollment, host tokens and check-ins."""
