"""Data exchange: inbound readers, manifests, receipts, quarantine (and later outbound shares)."""
