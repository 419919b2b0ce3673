"""Outputs of a run: result tables and evidence, the manifest, explain, and the HTML report."""
