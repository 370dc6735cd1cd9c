"""The BiSeNet face-parsing network of CelebAMask-HQ, shaped so that the widely used `79999_iter.pth`
(zllrunning/face-parsing.PyTorch) loads into it by parameter name.

That checkpoint's model has no separate spatial path: the ResNet's 1/8 feature stands in for it, and
the feature fusion module joins it with the context path. Module names below are the checkpoint's
keys (`cp.resnet.layer1.0.conv1.weight`, `cp.arm16.conv_atten.weight`, `ffm.convblk.conv.weight`,
`conv_out.conv_out.weight`...). No ImageNet backbone is fetched: the checkpoint carries every weight.

`width` scales every channel count (64 is the real network); tests build a narrow one.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ConvBNReLU(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding=kernel_size // 2, bias=False)
        self.bn = nn.BatchNorm2d(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


class BasicBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.downsample: nn.Module | None = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=False), nn.BatchNorm2d(out_channels)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        shortcut = x if self.downsample is None else self.downsample(x)
        return F.relu(shortcut + residual)


def _stage(in_channels: int, out_channels: int, stride: int) -> nn.Sequential:
    return nn.Sequential(BasicBlock(in_channels, out_channels, stride), BasicBlock(out_channels, out_channels))


class ResNet18(nn.Module):
    """ResNet-18 trunk returning the 1/8, 1/16 and 1/32 features."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, 7, 2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.maxpool = nn.MaxPool2d(3, 2, padding=1)
        self.layer1 = _stage(width, width, 1)
        self.layer2 = _stage(width, 2 * width, 2)
        self.layer3 = _stage(2 * width, 4 * width, 2)
        self.layer4 = _stage(4 * width, 8 * width, 2)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = self.maxpool(F.relu(self.bn1(self.conv1(x))))
        eighth = self.layer2(self.layer1(x))
        sixteenth = self.layer3(eighth)
        return eighth, sixteenth, self.layer4(sixteenth)


class AttentionRefinementModule(nn.Module):
    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = ConvBNReLU(in_channels, out_channels)
        self.conv_atten = nn.Conv2d(out_channels, out_channels, 1, bias=False)
        self.bn_atten = nn.BatchNorm2d(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feature = self.conv(x)
        weights = torch.sigmoid(self.bn_atten(self.conv_atten(feature.mean(dim=(2, 3), keepdim=True))))
        return feature * weights


class ContextPath(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.resnet = ResNet18(width)
        self.arm16 = AttentionRefinementModule(4 * width, 2 * width)
        self.arm32 = AttentionRefinementModule(8 * width, 2 * width)
        self.conv_head32 = ConvBNReLU(2 * width, 2 * width)
        self.conv_head16 = ConvBNReLU(2 * width, 2 * width)
        self.conv_avg = ConvBNReLU(8 * width, 2 * width, kernel_size=1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        eighth, sixteenth, thirty_second = self.resnet(x)
        global_context = self.conv_avg(thirty_second.mean(dim=(2, 3), keepdim=True))
        up32 = self.arm32(thirty_second) + global_context  # broadcast = nearest upsampling of a 1x1 map
        up32 = self.conv_head32(F.interpolate(up32, size=sixteenth.shape[2:], mode="nearest"))
        up16 = self.arm16(sixteenth) + up32
        up16 = self.conv_head16(F.interpolate(up16, size=eighth.shape[2:], mode="nearest"))
        return eighth, up16


class FeatureFusionModule(nn.Module):
    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.convblk = ConvBNReLU(in_channels, out_channels, kernel_size=1)
        self.conv1 = nn.Conv2d(out_channels, out_channels // 4, 1, bias=False)
        self.conv2 = nn.Conv2d(out_channels // 4, out_channels, 1, bias=False)

    def forward(self, spatial: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        feature = self.convblk(torch.cat([spatial, context], dim=1))
        weights = torch.sigmoid(self.conv2(F.relu(self.conv1(feature.mean(dim=(2, 3), keepdim=True)))))
        return feature * weights + feature


class BiSeNetOutput(nn.Module):
    def __init__(self, in_channels: int, mid_channels: int, num_classes: int) -> None:
        super().__init__()
        self.conv = ConvBNReLU(in_channels, mid_channels)
        self.conv_out = nn.Conv2d(mid_channels, num_classes, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_out(self.conv(x))


class BiSeNet(nn.Module):
    """Returns class logits at 1/8 of the input resolution."""

    def __init__(self, num_classes: int = 19, width: int = 64) -> None:
        super().__init__()
        self.cp = ContextPath(width)
        self.ffm = FeatureFusionModule(4 * width, 4 * width)
        self.conv_out = BiSeNetOutput(4 * width, 4 * width, num_classes)
        # Auxiliary heads used only in training; kept so that the checkpoint loads key for key.
        self.conv_out16 = BiSeNetOutput(2 * width, width, num_classes)
        self.conv_out32 = BiSeNetOutput(2 * width, width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        eighth, context = self.cp(x)
        return self.conv_out(self.ffm(eighth, context))
