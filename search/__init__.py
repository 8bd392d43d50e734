"""Query side: read-only search over a published index directory."""
