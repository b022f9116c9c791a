"""Family generators: pure functions from family parameters to a NetSpec."""
from .efficientnet import efficientnet, efficientnet_compound
from .regnet import regnet
from .resnet import resnet, resnet_rs, resnet_rs_layers
from .tresnet import tresnet

__all__ = ["regnet", "efficientnet", "efficientnet_compound", "resnet", "resnet_rs", "resnet_rs_layers", "tresnet"]
