"""Framework versions over time: the semantic diff of two versions (and, later, their impact on data).

sides.py reads a version (a file, a folder, `REV:PATH` from git, a run folder);
model.py keys its resolved framework by stable identities; scales.py compares
scales as functions; points.py works out effective point budgets; compare.py
lists the changes; edits.py numbers them into edits and bundles; render.py
prints them. `diff` (in diff.py) chains them.
"""
