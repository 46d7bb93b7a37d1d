"""PyTorch runtime: tensor masks, MAE / I-JEPA / compact TorchLean models and their training."""
