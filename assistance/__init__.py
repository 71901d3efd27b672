"""The business platform (issue #9): catalogue, cases and their flows, archives, funds, supervision, certificates."""
