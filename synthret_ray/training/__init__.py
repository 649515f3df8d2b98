"""Training: losses, bi-/cross-encoder models and Ray Train loops."""
