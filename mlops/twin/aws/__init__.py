"""Shapes every AWS service shares, written once for the whole twin: ARNs, S3 URIs,
timestamps as each API renders them, and the JSON responses and error documents the twin
answers with."""
