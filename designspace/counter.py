"""A shape-tracking counter of multiply-adds, parameters and activations.

Conventions (the oracle is fvcore on the built module, see ``tests/oracles.py``):

* flops: multiply-adds of convolutions and linear layers; biases, norms, activations,
  pooling and element-wise ops count nothing.
* params: every parameter of the built module (conv/linear weights and biases, norm affine).
* acts: output elements of convolutions and linear layers.

``convention="pycls"`` counts as pycls' ``complexity()`` does (``pycls/models/blocks.py``:
``conv2d_cx``, ``linear_cx``, ``pool2d_cx``): flops also count the bias additions of convs and
linear layers with a bias (one per output element), and acts also count the outputs of pooling
layers with a window (the stem's max-pool; not the global pool).  Params are the same.

The same code counts one network (Python ints) or a table of networks at once (numpy arrays
of widths, as the spaces' vectorised tables pass): nothing here branches on a value.  Pure
Python: no torch, and numpy only through the arrays it is given.
"""
from __future__ import annotations


class Counter:
    """Tracks the current feature map (``c`` x ``h`` x ``w``, batch 1) and the running totals."""

    __slots__ = ("c", "h", "w", "flops", "params", "acts", "pycls")

    def __init__(self, c: int, h: int, w: int, convention: str = "fvcore"):
        self.c, self.h, self.w = c, h, w
        self.flops = self.params = self.acts = 0
        self.pycls = convention == "pycls"

    # ------------------------------------------------------------------ structure
    def fork(self) -> "Counter":
        """A counter at the same feature map with zero totals (for a parallel branch)."""
        return Counter(self.c, self.h, self.w, "pycls" if self.pycls else "fvcore")

    def add(self, other: "Counter", times: int = 1) -> None:
        """Add another counter's totals (``times`` copies of them; an array for a table)."""
        self.flops += other.flops * times
        self.params += other.params * times
        self.acts += other.acts * times

    def scale(self, factor: object) -> "Counter":
        """Multiply the totals by ``factor`` (e.g. a 0/1 mask of the table rows where a layer exists)."""
        self.flops = self.flops * factor
        self.params = self.params * factor
        self.acts = self.acts * factor
        return self

    # -------------------------------------------------------------------- layers
    def conv(self, out: int, k: int, stride: int = 1, groups: int = 1, *, padding: int | None = None,
             bias: bool = False, has_params: bool = True) -> "Counter":
        p = (k - 1) // 2 if padding is None else padding
        h = (self.h + 2 * p - k) // stride + 1
        w = (self.w + 2 * p - k) // stride + 1
        per_out = (self.c // groups) * k * k
        self.flops += per_out * out * h * w + (out * h * w if bias and self.pycls else 0)
        if has_params:
            self.params += per_out * out + (out if bias else 0)
        self.acts += out * h * w
        self.c, self.h, self.w = out, h, w
        return self

    def norm(self) -> "Counter":
        """Batch norm: affine weight and bias (running statistics are buffers)."""
        self.params += 2 * self.c
        return self

    def conv_norm(self, out: int, k: int, stride: int = 1, groups: int = 1, **kw) -> "Counter":
        return self.conv(out, k, stride, groups, **kw).norm()

    def pool(self, k: int, stride: int, padding: int = 0, ceil_mode: bool = False) -> "Counter":
        """Max/avg pooling: changes the spatial size only."""
        def out(n: int) -> int:
            num = n + 2 * padding - k
            if not ceil_mode:
                return num // stride + 1
            o = -(-num // stride) + 1
            # PyTorch: the last window must start inside the input or left padding
            return o - ((o - 1) * stride >= n + padding) * 1

        self.h, self.w = out(self.h), out(self.w)
        if self.pycls:
            self.acts += self.c * self.h * self.w
        return self

    def space_to_depth(self, block: int) -> "Counter":
        self.c, self.h, self.w = self.c * block * block, self.h // block, self.w // block
        return self

    def se(self, rd: int) -> "Counter":
        """Squeeze-excitation on the current map: two 1x1 convs with bias on the pooled vector."""
        c = self.c
        self.flops += 2 * c * rd + ((rd + c) if self.pycls else 0)
        self.params += c * rd + rd + rd * c + c
        self.acts += rd + c
        return self

    def global_pool(self) -> "Counter":
        self.h = self.w = 1
        return self

    def linear(self, out: int, bias: bool = True) -> "Counter":
        self.flops += self.c * out + (out if bias and self.pycls else 0)
        self.params += self.c * out + (out if bias else 0)
        self.acts += out
        self.c = out
        return self
