"""TTAPI's HTTP API as Python: the client, its exception tree, request and response models."""
