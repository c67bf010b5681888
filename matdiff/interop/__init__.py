"""Bridges to other packages (imported only when used: ``import matdiff`` stays light)."""
