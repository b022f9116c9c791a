"""resnet family (to be written)."""
def resnet(*a, **k): raise NotImplementedError
def resnet_rs(*a, **k): raise NotImplementedError
