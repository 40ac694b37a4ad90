//! Baselines and result rows: the one place that measures what this machine costs.
