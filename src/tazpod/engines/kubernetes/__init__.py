"""The Kubernetes engine: the pod (engine), its manifests, its failures explained
(diagnose), its exec stream, workspace copies."""
