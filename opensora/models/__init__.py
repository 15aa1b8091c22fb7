"""Networks. Importing this package registers every model in ``opensora.registry.MODELS``."""
from . import stdit  # noqa: F401  (registers STDiT3 models)
from . import text_encoder, vae  # noqa: F401  (registers "OpenSoraVAE_V1_2"(-tiny), "t5", "offline_text")
