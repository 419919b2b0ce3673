"""kpidsl: a declarative language and engine for KPI-based performance appraisal."""

__version__ = "0.1.0"
