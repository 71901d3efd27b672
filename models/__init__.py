"""Risk models (scikit-learn): features, training, evaluation, scoring, model cards, registry.

Filled by the monitoring work (issue: low-income dynamic monitoring); imports the domain package only.
"""
