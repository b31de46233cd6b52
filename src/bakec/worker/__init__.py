"""The worker: bakec's embedded containerd, a typed gRPC client for it, and the RUN executor."""
