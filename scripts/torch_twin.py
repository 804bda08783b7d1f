#!/usr/bin/env python3
"""PyTorch twin of the mtf model (crates/model/src/model.rs), for speed comparison only.

Same shape as models/spy-15m-h4: K=5 timeframes x T=32 steps x F=20 features, patch 8, d_model 32, 4 heads,
2 pre-norm encoder layers with ReLU FFN 64, attention pooling per timeframe, learned-query attention across
timeframes, quantile + class heads; same loss (pinball on 3 quantiles + 0.5 x cross-entropy); AdamW.
Timed like `cargo bench -p mtf-model --bench model`: inference batch 1 / 100 including input tensor creation,
one training epoch of 256 samples in batches of 64.

Usage: OMP_NUM_THREADS=1 .venv/bin/python scripts/torch_twin.py
"""
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(1)
K, T, FEAT, P, D, H, L, FF = 5, 32, 20, 8, 32, 4, 2, 64
N = T // P


class Layer(nn.Module):
    def __init__(self):
        super().__init__()
        self.n1, self.n2 = nn.LayerNorm(D), nn.LayerNorm(D)
        self.attn = nn.MultiheadAttention(D, H, batch_first=True)
        self.f1, self.f2 = nn.Linear(D, FF), nn.Linear(FF, D)

    def forward(self, x, pad):
        y = self.n1(x)
        x = x + self.attn(y, y, y, key_padding_mask=pad, need_weights=False)[0]
        return x + self.f2(F.relu(self.f1(self.n2(x))))


class Twin(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.ModuleList([nn.Linear(P * FEAT, D) for _ in range(K)])
        self.tf = nn.Parameter(torch.randn(K, D) * 0.02)
        self.pos = nn.Parameter(torch.randn(N, D) * 0.02)
        self.layers = nn.ModuleList([Layer() for _ in range(L)])
        self.pq = nn.Parameter(torch.randn(1, 1, D) * 0.02)
        self.pool = nn.MultiheadAttention(D, H, batch_first=True)
        self.cq = nn.Parameter(torch.randn(1, 1, D) * 0.02)
        self.cross = nn.MultiheadAttention(D, H, batch_first=True)
        self.norm = nn.LayerNorm(D)
        self.qh, self.ch = nn.Linear(D, 3), nn.Linear(D, 3)

    def forward(self, x, mask):
        b = x.shape[0]
        xk = x.transpose(1, 2).reshape(b, K, N, P * FEAT)
        present = mask.transpose(1, 2).reshape(b, K, N, P).sum(-1) > 0
        h = torch.stack([self.proj[k](xk[:, k]) for k in range(K)], 1) + self.tf[None, :, None] + self.pos[None, None]
        h = h.reshape(b * K, N, D)
        pad = ~present.reshape(b * K, N)
        for layer in self.layers:
            h = layer(h, pad)
        ctx, w = self.pool(self.pq.expand(b * K, 1, D), h, h, key_padding_mask=pad)
        s = ctx.reshape(b, K, D)
        z, wk = self.cross(self.cq.expand(b, 1, D), s, s)
        z = self.norm(z.reshape(b, D))
        raw = self.qh(z)
        mid = raw[:, 1:2]
        q = torch.cat([mid - F.softplus(raw[:, :1]), mid, mid + F.softplus(raw[:, 2:])], 1)
        return q, self.ch(z), wk, w


def loss_fn(q, logits, y, cls):
    levels = torch.tensor([0.1, 0.5, 0.9])
    e = y[:, None] - q
    return torch.maximum(levels * e, (levels - 1) * e).mean() + 0.5 * F.cross_entropy(logits, cls)


def med(fn, reps):
    fn()
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t) * 1e3)
    return statistics.median(ts)


def main():
    torch.manual_seed(1)
    model = Twin()
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, parameters {sum(p.numel() for p in model.parameters())}")
    model.eval()
    for b in (1, 100):
        data = [((i * 7919 % 1000) / 500.0) - 1.0 for i in range(b * T * K * FEAT)]

        def run():
            with torch.no_grad():
                x = torch.tensor(data, dtype=torch.float32).reshape(b, T, K, FEAT)
                out = model(x, torch.ones(b, T, K))
                [o.numpy() for o in out]

        print(f"inference batch {b}: {med(run, 30):.3f} ms")
    model.train()
    x = torch.tensor([((i * 7919 % 1000) / 500.0) - 1.0 for i in range(256 * T * K * FEAT)], dtype=torch.float32).reshape(256, T, K, FEAT)
    mask = torch.ones(256, T, K)
    y = torch.tensor([((i % 7) - 3) / 3 for i in range(256)], dtype=torch.float32)
    cls = torch.tensor([i % 3 for i in range(256)])
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-2)

    def epoch():
        perm = torch.randperm(256)
        for i in range(0, 256, 64):
            idx = perm[i:i + 64]
            q, logits, _, _ = model(x[idx], mask[idx])
            loss = loss_fn(q, logits, y[idx], cls[idx])
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()

    ms = med(epoch, 10)
    print(f"training epoch of 256 samples (batch 64): {ms:.1f} ms = {256 / ms * 1e3:.0f} samples/s")


if __name__ == "__main__":
    main()
