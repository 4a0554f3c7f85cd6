"""Small random-weight CLIP models saved in the Hugging Face layout.

CLIP weights cannot be downloaded everywhere (CI, air-gapped clusters), yet the real
loading path (``CLIPModel.from_pretrained`` on a directory) must be exercised. These
builders write a complete model directory (config, weights, tokenizer files, image
processor config) that :class:`sqid.embed.clip.ClipEncoder` loads like the real one.
``tiny`` is for tests and the demo; ``vit-b`` has ViT-B/32's shape for benchmarks;
``vit-l`` has ViT-L/14's shape (the real model's speed, random weights).
"""

from __future__ import annotations

import json
from pathlib import Path

SIZES = {
    "tiny": dict(text=(32, 2, 2, 64), vision=(32, 2, 2, 64), image=32, patch=8, proj=16),
    "vit-b": dict(
        text=(512, 12, 8, 2048), vision=(768, 12, 12, 3072), image=224, patch=32, proj=512
    ),
    "vit-l": dict(
        text=(768, 12, 12, 3072), vision=(1024, 24, 16, 4096), image=224, patch=14, proj=768
    ),
}


def _byte_alphabet() -> list[str]:
    """The printable stand-ins byte-level BPE uses for the 256 byte values."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    chars, extra = [], 0
    for b in range(256):
        if b in keep:
            chars.append(chr(b))
        else:
            chars.append(chr(256 + extra))
            extra += 1
    return chars


def write_tokenizer_files(directory: Path) -> int:
    """A minimal byte-level BPE vocabulary (every byte, alone or word-final); returns its size."""
    alphabet = _byte_alphabet()
    tokens = alphabet + [c + "</w>" for c in alphabet] + ["<|startoftext|>", "<|endoftext|>"]
    (directory / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(tokens)}))
    (directory / "merges.txt").write_text("#version: 0.2\n")
    return len(tokens)


def build(directory: Path, size: str = "tiny", seed: int = 0) -> Path:
    """Write a random-weight CLIP of ``size`` to ``directory`` and return it."""
    import torch
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor, CLIPTokenizer

    spec = SIZES[size]
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    vocab_size = write_tokenizer_files(directory)
    tokenizer = CLIPTokenizer.from_pretrained(str(directory))
    t_hidden, t_layers, t_heads, t_ff = spec["text"]
    v_hidden, v_layers, v_heads, v_ff = spec["vision"]
    config = CLIPConfig(
        text_config={
            "vocab_size": vocab_size,
            "hidden_size": t_hidden,
            "num_hidden_layers": t_layers,
            "num_attention_heads": t_heads,
            "intermediate_size": t_ff,
            "max_position_embeddings": 77,
            "bos_token_id": tokenizer.bos_token_id,
            "eos_token_id": tokenizer.eos_token_id,
            "pad_token_id": tokenizer.pad_token_id,
        },
        vision_config={
            "hidden_size": v_hidden,
            "num_hidden_layers": v_layers,
            "num_attention_heads": v_heads,
            "intermediate_size": v_ff,
            "image_size": spec["image"],
            "patch_size": spec["patch"],
        },
        projection_dim=spec["proj"],
    )
    torch.manual_seed(seed)
    CLIPModel(config).save_pretrained(str(directory))
    image_processor = CLIPImageProcessor(
        size={"shortest_edge": spec["image"]},
        crop_size={"height": spec["image"], "width": spec["image"]},
    )
    CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(
        str(directory)
    )
    return directory
