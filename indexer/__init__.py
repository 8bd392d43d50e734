"""Build side: files → documents → passages → index directory."""
