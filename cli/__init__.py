"""The edge: the `fazhi` command, which builds Settings once from flags, environment and file and passes them down."""
