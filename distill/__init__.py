"""Data, teacher training, distillation, export and evaluation of the crisis mini-models."""
