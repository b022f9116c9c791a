"""The writers of each recorded study's results (`python studies/make_results.py`)."""
