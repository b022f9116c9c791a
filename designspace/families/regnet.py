"""regnet family (to be written)."""
def regnet(*a, **k): raise NotImplementedError
