"""Progressive autoregressive long-video diffusion on Open-Sora v1.2."""
from .utils.logging import quiet_third_party_loggers as _quiet_third_party_loggers

__version__ = "0.1.0"

# bitsandbytes (imported by diffusers, which our VAE and schedulers import) logs a warning on import; a tool that
# imports a VAE at module level would print it before its CLI wrapper runs, so the loggers are quieted here first.
_quiet_third_party_loggers()
