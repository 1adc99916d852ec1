"""lithops-localhost: the localhost compute backend (a warm pool of worker processes)."""
