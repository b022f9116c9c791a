"""Error distribution functions, statistics, fits, figures and reports."""
