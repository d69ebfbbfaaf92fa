#!/usr/bin/env python3
"""The same training step as bench/bench_strategies.cpp, with Hugging Face's Dinov2Model
(random weights, ViT-B/14 layout) and peft's LoRA: a side-by-side anchor for osteofm's
GPU figures (scripts/gpu-check.sh runs it when the machine's Python has torch,
transformers and peft). One JSON line per strategy on stdout.

    python3 scripts/hf_anchor.py --size 224 --batch 32 --steps 20 --device cuda
"""
import argparse
import json
import time

import torch
from transformers import Dinov2Config, Dinov2Model


def build(strategy, size):
    config = Dinov2Config(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
                          patch_size=14, image_size=518, layerscale_value=1.0)
    backbone = Dinov2Model(config)
    head = torch.nn.Linear(768, 3)
    if strategy == "linear_probe":
        backbone.requires_grad_(False)
    elif strategy == "partial":
        backbone.requires_grad_(False)
        for layer in backbone.encoder.layer[-3:]:
            layer.requires_grad_(True)
        backbone.layernorm.requires_grad_(True)
    elif strategy == "lora":
        from peft import LoraConfig, get_peft_model
        backbone = get_peft_model(backbone, LoraConfig(r=16, lora_alpha=16, lora_dropout=0.1,
                                                       target_modules=["query", "value"]))
    return backbone, head


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--device", default="cuda")
    a = p.parse_args()
    for strategy in ("linear_probe", "partial", "lora"):
        torch.manual_seed(1)
        backbone, head = build(strategy, a.size)
        backbone.to(a.device).train()
        head.to(a.device)
        params = [q for q in list(backbone.parameters()) + list(head.parameters()) if q.requires_grad]
        opt = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.05)
        x = torch.randn(a.batch, 3, a.size, a.size, device=a.device)
        y = torch.randint(0, 3, (a.batch,), device=a.device)
        cuda = a.device.startswith("cuda")

        def step():
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=cuda):
                if strategy == "linear_probe":
                    with torch.no_grad():
                        f = backbone(pixel_values=x).last_hidden_state[:, 0]
                else:
                    f = backbone(pixel_values=x).last_hidden_state[:, 0]
                logits = head(f)
            torch.nn.functional.cross_entropy(logits.float(), y).backward()
            opt.step()
            opt.zero_grad()
            if cuda:
                torch.cuda.synchronize()

        step()
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        t0 = time.perf_counter()
        for _ in range(a.steps):
            step()
        seconds = time.perf_counter() - t0
        print(json.dumps({"anchor": "hf-dinov2+peft", "strategy": strategy, "size": a.size, "batch": a.batch,
                          "steps": a.steps, "images_per_s": a.batch * a.steps / seconds,
                          "peak_allocated_mib": torch.cuda.max_memory_allocated() / 2**20 if cuda else None,
                          "trainable_parameters": sum(q.numel() for q in params)}), flush=True)
        del backbone, head, opt
        if cuda:
            torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
