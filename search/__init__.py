"""Query side: search, find-similar and compare over a published version, read through core.storage."""
