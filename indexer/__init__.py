"""Build side: files → documents → passages → a published version, through a storage backend (core.storage)."""
