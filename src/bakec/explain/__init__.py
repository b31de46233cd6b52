"""Explaining builds: why steps ran (``bakec why``) and what a plan changes (``bakec plan --diff``)."""
