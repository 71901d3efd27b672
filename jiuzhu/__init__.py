"""jiuzhu (救助): the domain package of the Sichuan social assistance platform.

Pure logic shared by every layer: citizen-ID rules, administrative divisions, masking,
lake paths and table I/O, settings, the synthetic province and the command-line interface.
It never imports Dagster, dbt, Streamlit or scikit-learn (checked by import-linter).
"""

__version__ = "0.1.0"
