"""Verification (核对): on-demand household assessment, requests, reports (issue: verification)."""
