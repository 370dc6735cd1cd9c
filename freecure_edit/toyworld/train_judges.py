"""Train the judges on drawings and their autoencoder reconstructions: the attribute judge with one
cross-entropy per family, the identity judge as a cosine classifier over identities (CosFace margin),
whose normalised features are the embedding."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from freecure_edit.toyworld.judges import EMBEDDING_DIM, JudgeNet, attribute_heads, identity_heads
from freecure_edit.toyworld.world import FAMILIES, IDENTITIES

JUDGE_WIDTH = 24
COSFACE_SCALE = 16.0
COSFACE_MARGIN = 0.3


def _augment(pixels: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    # A little noise and brightness change, so the judges do not key on the drawing's exact colours.
    noise = torch.randn(pixels.shape, generator=generator) * 0.03
    gain = 1 + (torch.rand(len(pixels), 1, 1, 1, generator=generator) - 0.5) * 0.1
    return (pixels * gain + noise).clamp(-1, 1)


def train_attribute_judge(pixels, targets, steps: int, seed: int, batch: int = 32, lr: float = 3e-3, log=print):
    from freecure_edit.toyworld.train_generator import _set_lr

    torch.manual_seed(seed)
    net = JudgeNet(attribute_heads(), width=JUDGE_WIDTH)
    optimiser = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    generator = torch.Generator().manual_seed(seed)
    net.train()
    for step in range(steps):
        index = torch.randint(len(pixels), (batch,), generator=generator)
        out = net(_augment(pixels[index], generator))
        loss = sum(F.cross_entropy(out[f], targets[f][index]) for f in FAMILIES)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        _set_lr(optimiser, lr, step, steps)
        if step % 100 == 0 or step == steps - 1:
            log(f"attribute judge step {step}/{steps} loss {loss.item():.4f}")
    return net.eval()


def train_identity_judge(pixels, identities, steps: int, seed: int, batch: int = 32, lr: float = 3e-3, log=print):
    from freecure_edit.toyworld.train_generator import _set_lr

    torch.manual_seed(seed)
    net = JudgeNet(identity_heads(), width=JUDGE_WIDTH)
    centres = torch.nn.Parameter(torch.randn(IDENTITIES, EMBEDDING_DIM))
    optimiser = torch.optim.AdamW(list(net.parameters()) + [centres], lr=lr, weight_decay=1e-4)
    generator = torch.Generator().manual_seed(seed)
    net.train()
    for step in range(steps):
        index = torch.randint(len(pixels), (batch,), generator=generator)
        embedding = F.normalize(net(_augment(pixels[index], generator))["embedding"], dim=1)
        cosine = embedding @ F.normalize(centres, dim=1).T
        target = identities[index]
        margin = F.one_hot(target, IDENTITIES) * COSFACE_MARGIN
        loss = F.cross_entropy(COSFACE_SCALE * (cosine - margin), target)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        _set_lr(optimiser, lr, step, steps)
        if step % 100 == 0 or step == steps - 1:
            log(f"identity judge step {step}/{steps} loss {loss.item():.4f}")
    return net.eval()
