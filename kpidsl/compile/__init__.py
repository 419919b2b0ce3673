"""Compile: a checked Program and its Analysis into a Plan of SQL steps (see `planner`)."""
