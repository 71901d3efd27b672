"""Streamlit apps: the staff app (员工端) and, later, the public portal. Pages are thin."""
