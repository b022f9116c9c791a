"""efficientnet family (to be written)."""
def efficientnet(*a, **k): raise NotImplementedError
def efficientnet_compound(*a, **k): raise NotImplementedError
