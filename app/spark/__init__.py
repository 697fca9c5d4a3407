"""Scoring comment sets on Apache Spark with a saved run (spark_predict.py)."""
