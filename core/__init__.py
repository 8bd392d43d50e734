"""What the build side (indexer/) and the query side (search/) share.

Records (`records`), the matching form of text (`textform`, `boilerplate`), the embedding model and its
runtimes (`model`), metadata filters (`filters`), errors (`errors`), settings (`settings`) and the storage
backends (`storage`: each one a storage that publishes a complete version and opens its own reader).
Nothing here imports indexer/, search/, web/ or cli/.
"""
