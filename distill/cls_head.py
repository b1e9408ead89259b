"""Exact inference shortcut for BERT classifiers: the last layer only computes the [CLS] row.

A sequence classifier reads one vector, the last layer's output at position 0 ([CLS]), so the
last layer's query projection, attention output, feed-forward block and LayerNorms are only
needed for that row; keys and values still come from every token. :func:`cls_only_last_layer`
swaps the last ``BertLayer`` for :class:`ClsQueryLayer` (same weights, same maths), so the
exported graph skips ~5/6 of that layer's work per token with identical logits (the export's
parity check against the unchanged PyTorch model measures it).
"""

from __future__ import annotations

import math

import torch
from torch import nn


class ClsQueryLayer(nn.Module):
    """A ``BertLayer`` evaluated for the [CLS] query only: output ``[batch, 1, hidden]``."""

    def __init__(self, layer: nn.Module):
        super().__init__()
        self.layer = layer

    def forward(self, hidden_states: torch.Tensor, attention_mask=None, *args, **kwargs):
        attention = self.layer.attention
        heads = attention.self.num_attention_heads
        size = attention.self.attention_head_size
        batch = hidden_states.shape[0]
        cls = hidden_states[:, :1]

        def split(x: torch.Tensor) -> torch.Tensor:
            return x.view(batch, -1, heads, size).transpose(1, 2)

        query = split(attention.self.query(cls))
        key = split(attention.self.key(hidden_states))
        value = split(attention.self.value(hidden_states))
        scores = torch.matmul(query, key.transpose(-1, -2)) / math.sqrt(size)
        if attention_mask is not None:  # additive [batch, 1, 1 or seq, seq]: keep the CLS row
            scores = scores + attention_mask[:, :, :1, :]
        context = torch.matmul(scores.softmax(dim=-1), value)
        context = context.transpose(1, 2).reshape(batch, 1, heads * size)
        attended = attention.output(context, cls)
        return (self.layer.output(self.layer.intermediate(attended), attended),)


def supports_cls_only(model: nn.Module) -> bool:
    """True for BERT-style ``*ForSequenceClassification`` models with absolute positions."""
    config = getattr(model, "config", None)
    encoder = getattr(getattr(model, "bert", None), "encoder", None)
    return (
        config is not None
        and config.model_type == "bert"
        and getattr(config, "position_embedding_type", "absolute") == "absolute"
        and encoder is not None
        and len(encoder.layer) > 0
    )


def cls_only_last_layer(model: nn.Module) -> nn.Module:
    """Swap the last encoder layer of ``model`` (in place) for :class:`ClsQueryLayer`."""
    if not supports_cls_only(model):
        raise ValueError("cls_only_last_layer needs a BERT *ForSequenceClassification model")
    layers = model.bert.encoder.layer
    if not isinstance(layers[-1], ClsQueryLayer):
        layers[-1] = ClsQueryLayer(layers[-1])
    return model
