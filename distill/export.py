"""Export a sequence classifier to ONNX (logits output, dynamic batch and sequence axes)."""

from __future__ import annotations

from pathlib import Path


def export_onnx(model, path: str | Path, opset: int = 17) -> Path:
    """Export a Hugging Face ``*ForSequenceClassification`` (in eval mode) to ONNX."""
    import torch

    path = Path(path)
    input_names = ["input_ids", "attention_mask"]
    if getattr(model.config, "type_vocab_size", 0) and model.config.model_type == "bert":
        input_names.append("token_type_ids")
    dummy = {
        "input_ids": torch.ones((2, 8), dtype=torch.long),
        "attention_mask": torch.ones((2, 8), dtype=torch.long),
    }
    if "token_type_ids" in input_names:
        dummy["token_type_ids"] = torch.zeros((2, 8), dtype=torch.long)
    axes = {name: {0: "batch", 1: "sequence"} for name in input_names}
    axes["logits"] = {0: "batch"}
    with torch.no_grad():
        torch.onnx.export(
            model,
            (dummy,),
            str(path),
            input_names=input_names,
            output_names=["logits"],
            dynamic_axes=axes,
            opset_version=opset,
            dynamo=False,
        )
    return path


def export_folder(
    model_dir: str | Path, out_dir: str | Path, cls_only: bool = True
) -> tuple[Path, str]:
    """Export a saved Hugging Face classifier folder to ``out_dir/model.onnx``.

    Uses optimum's ONNX exporter (``onnx_export_from_model``, offline on a local folder). With
    ``cls_only`` a BERT model's last layer is first swapped for the exact [CLS]-only version
    (``distill.cls_head``). Falls back to :func:`export_onnx` (``torch.onnx.export``) if optimum
    is missing. Returns (path, exporter used).
    """
    from transformers import AutoModelForSequenceClassification

    from distill.cls_head import cls_only_last_layer, supports_cls_only

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir).eval()
    exporter = "optimum.exporters.onnx"
    if cls_only and supports_cls_only(model):
        cls_only_last_layer(model)
        exporter += " (last layer [CLS]-only)"
    try:
        from optimum.exporters.onnx import onnx_export_from_model
    except ImportError:
        model.config.save_pretrained(out)
        return export_onnx(model, out / "model.onnx"), exporter.replace(
            "optimum.exporters.onnx", "torch.onnx.export"
        )
    onnx_export_from_model(model, out, task="text-classification", do_validation=False)
    return out / "model.onnx", exporter
