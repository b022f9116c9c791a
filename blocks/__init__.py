"""nn building blocks.  Every block takes explicit arguments (widths, stride, groups, norm and
activation factories); nothing reads a global config and nothing here knows about specs."""
