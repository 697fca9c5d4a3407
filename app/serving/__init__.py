"""The HTTP service: a saved run behind a JSON API and a web page (python serve.py)."""
