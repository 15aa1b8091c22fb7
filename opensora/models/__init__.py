"""Networks. Importing this package registers every model in ``opensora.registry.MODELS``."""
