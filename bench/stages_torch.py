"""The PyTorch side of bench/stages.ts: the Up-A training step (src/intern/amateur.ts,
amateurStep) in PyTorch 1.13 on the same shapes, timed phase by phase like the TypeScript side.

The model mirrors src/intern/amateur-model.ts: the reference mn-t of scripts/fixtures/models.py
(the module the parity test checks ours against) pooled after its head, a pre-norm text
transformer of the same width, depth, heads, MLP ratio and vocabulary with a BERT masked-LM
head, bias-free image and text projections, SimSiam's projector and predictor, a learnable logit
scale and a full queue of text features. The step computes the same four losses (CLIP InfoNCE
with the clamped logit scale and nearest-neighbour InfoNCE, both over 2 image views x 2 caption
views; SimSiam; masked LM), reads each term as a number and enqueues the batch's captions, as
amateurStep does; then AdamW with weight decay 0.05 off biases and 1-d parameters.
What differs: the text blocks are torch.nn.TransformerEncoderLayer (one fused in-projection
where ours has a qkv Linear; the same arithmetic); token ids and MLM masks come precomputed,
where amateurStep tokenizes and masks its captions inside the step.
"""
import math
import os
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts", "fixtures"))
from models import MN_T, MetaNet  # noqa: E402

LOGIT_SCALE_MAX = math.log(100)


class TextEncoder(nn.Module):
    def __init__(self, vocab, width, depth, heads, max_length):
        super().__init__()
        self.token_embedding = nn.Embedding(vocab, width, padding_idx=0)
        self.positional_embedding = nn.Parameter(torch.randn(max_length, width) * 0.01)
        self.blocks = nn.ModuleList(
            nn.TransformerEncoderLayer(width, heads, 4 * width, dropout=0.0, activation="gelu", batch_first=True, norm_first=True)
            for _ in range(depth)
        )
        self.ln_final = nn.LayerNorm(width)
        self.mlm_head = nn.Sequential(nn.Linear(width, width), nn.GELU(), nn.LayerNorm(width), nn.Linear(width, vocab))

    def forward(self, ids, mask):
        h = self.token_embedding(ids) + self.positional_embedding[: ids.shape[1]]
        for block in self.blocks:
            h = block(h, src_key_padding_mask=mask == 0)
        return self.ln_final(h)


class Amateur(nn.Module):
    def __init__(self, s):
        super().__init__()
        self.backbone = MetaNet(MN_T, 1)
        self.backbone.classifier = nn.Identity()  # forward() is then the pooled head feature
        pooled, embed, proj, pred = 512, s["embedDim"], s["projectorDim"], s["predictorDim"]
        t = s["text"]
        self.image_projection = nn.Linear(pooled, embed, bias=False)
        self.text = TextEncoder(s["vocabSize"], t["width"], t["depth"], t["numHeads"], t["maxLength"])
        self.text_projection = nn.Linear(t["width"], embed, bias=False)
        self.projector = nn.Sequential(nn.Linear(pooled, proj, bias=False), nn.BatchNorm1d(proj), nn.ReLU(),
                                       nn.Linear(proj, proj, bias=False), nn.BatchNorm1d(proj))
        self.predictor = nn.Sequential(nn.Linear(proj, pred, bias=False), nn.BatchNorm1d(pred), nn.ReLU(), nn.Linear(pred, proj))
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))
        self.register_buffer("queue", F.normalize(torch.randn(s["queueSize"], embed), dim=1))
        self.queue_next = 0


def info_nce(a, b, scale):
    logits = F.normalize(a, dim=1) @ F.normalize(b, dim=1).t() * scale
    labels = torch.arange(a.shape[0])
    return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.t(), labels)) / 2


def nearest(queue, t):
    with torch.no_grad():
        return queue[(F.normalize(t.detach(), dim=1) @ queue.t()).argmax(1)]


def mean_over_pairs(images, texts, term):
    return sum(term(i, t) for i in images for t in texts) / (len(images) * len(texts))


def amateur_loss(m, views, ids, mask, masked_ids, masked_mask, labels, w):
    B = views.shape[0] // 2
    pooled = m.backbone(views)
    img = m.image_projection(pooled)
    txt = m.text_projection(m.text(ids, mask)[:, 0])
    images, texts = [img[:B], img[B:]], [txt[:B], txt[B:]]
    z = m.projector(pooled)
    p = m.predictor(z)
    logits = m.text.mlm_head(m.text(masked_ids, masked_mask))
    scale = m.logit_scale.clamp(max=LOGIT_SCALE_MAX).exp()
    terms = {
        "clip": mean_over_pairs(images, texts, lambda i, t: info_nce(i, t, scale)),
        "nn": mean_over_pairs(images, texts, lambda i, t: info_nce(i, nearest(m.queue, t), scale)),
        "simsiam": -0.5 * (F.cosine_similarity(p[:B], z[B:].detach(), dim=1).mean() + F.cosine_similarity(p[B:], z[:B].detach(), dim=1).mean()),
        "mlm": F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-100, reduction="sum")
        / max(int((labels != -100).sum()), 1),
    }
    total = sum(w[k] * v for k, v in terms.items())
    metrics = {k: v.item() for k, v in terms.items()}  # amateurStep logs every term
    with torch.no_grad():  # enqueue the captions' features, as TextFeatureQueue.enqueue
        rows = F.normalize(texts[0].detach(), dim=1)
        n = m.queue.shape[0]
        at = (m.queue_next + torch.arange(B)) % n
        m.queue[at] = rows
        m.queue_next = (m.queue_next + B) % n
    return total, metrics


def median_phases(step, runs, warmup, warm_seconds):
    laps = []
    warm_until = time.perf_counter() + warm_seconds
    r, warm = 0, True
    while len(laps) < runs:
        warm = warm and (r < warmup or time.perf_counter() < warm_until)
        t = [time.perf_counter()]
        step(lambda: t.append(time.perf_counter()))
        t.append(time.perf_counter())
        if not warm:
            laps.append([t[1] - t[0], t[2] - t[1], t[3] - t[2], t[4] - t[0]])
        r += 1
    return [statistics.median(col) for col in zip(*laps)]


def upa_step(s, runs, warmup, warm_seconds):
    """Medians (s) of forward, backward, optimizer and the whole step of the Up-A step described by s."""
    torch.manual_seed(0)
    m = Amateur(s).train()
    decay = [p for n, p in m.named_parameters() if p.ndim > 1 and not n.endswith(".bias")]
    no_decay = [p for n, p in m.named_parameters() if not (p.ndim > 1 and not n.endswith(".bias"))]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": s["weightDecay"]}, {"params": no_decay, "weight_decay": 0.0}], lr=s["lr"])
    views = torch.rand(*s["viewsShape"])
    ids, mask = torch.tensor(s["ids"]), torch.tensor(s["mask"])
    masked_ids, masked_mask, labels = torch.tensor(s["maskedIds"]), torch.tensor(s["maskedMask"]), torch.tensor(s["labels"]).long()

    def step(lap):
        loss, _ = amateur_loss(m, views, ids, mask, masked_ids, masked_mask, labels, s["weights"])
        lap()
        opt.zero_grad()
        loss.backward()
        lap()
        opt.step()
        lap()

    return median_phases(step, runs, warmup, warm_seconds)
