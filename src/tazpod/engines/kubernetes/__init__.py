"""The Kubernetes engine: the pod, its exec stream, workspace copies."""
