"""HTTP services of the platform: the exchange API for departments and commissioning units (EX-6)."""
