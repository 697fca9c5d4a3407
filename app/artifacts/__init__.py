"""The saved run: one directory holding everything prediction needs (SavedRun)."""
