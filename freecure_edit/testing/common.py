"""What the tiny pipelines of every family share: a byte-level CLIP tokenizer and text encoder
configuration (no vocabulary files needed), and the small autoencoder."""

from __future__ import annotations

BYTE_VOCAB_SIZE = 2 + 2 * 256


def byte_characters() -> list[str]:
    # The GPT-2 byte-to-unicode table: printable bytes map to themselves, the rest to code points >= 256.
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    printable += list(range(ord("®"), ord("ÿ") + 1))
    extra = 0
    chars = {}
    for b in range(256):
        if b in printable:
            chars[b] = chr(b)
        else:
            chars[b] = chr(256 + extra)
            extra += 1
    return [chars[b] for b in range(256)]


def tiny_clip_tokenizer():
    """A CLIP tokenizer over single bytes: it encodes any text with no vocabulary files."""
    from transformers import CLIPTokenizer

    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for ch in byte_characters():
        vocab[ch] = len(vocab)
    for ch in byte_characters():
        vocab[ch + "</w>"] = len(vocab)
    return CLIPTokenizer(vocab=vocab, merges=[], model_max_length=77)


def clip_text_config(hidden_size: int, projection_dim: int | None = None):
    from transformers import CLIPTextConfig

    kwargs = dict(
        vocab_size=BYTE_VOCAB_SIZE,
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=2,
        num_attention_heads=2,
        max_position_embeddings=77,
        bos_token_id=0,
        eos_token_id=1,
        pad_token_id=1,
    )
    if projection_dim is not None:
        kwargs["projection_dim"] = projection_dim
    return CLIPTextConfig(**kwargs)


def tiny_vae(**overrides):
    """SD's tiny autoencoder; FLUX's differs only in `overrides` (16 channels, no quant convs, shift)."""
    from diffusers import AutoencoderKL

    settings = dict(
        block_out_channels=(32, 64),
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
        latent_channels=4,
        norm_num_groups=32,
        sample_size=64,
    )
    return AutoencoderKL(**{**settings, **overrides})
