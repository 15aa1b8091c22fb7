"""Networks. Importing this package registers every model in ``opensora.registry.MODELS``."""
from . import stdit  # noqa: F401  (registers STDiT3 models)
