"""tresnet family (to be written)."""
def tresnet(*a, **k): raise NotImplementedError
