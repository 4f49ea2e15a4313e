"""Example code included in the docs; ``tests/toolkit/test_docs_examples.py`` runs it."""
