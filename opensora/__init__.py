"""Progressive autoregressive long-video diffusion on Open-Sora v1.2."""
import logging as _logging

__version__ = "0.1.0"

# bitsandbytes (imported by diffusers, which our VAE and schedulers import) logs a warning about an optional CPU
# kernel on import; it is not about the user's run, and it would precede every command's output (``--help``
# included). Silenced here, before any submodule imports diffusers (see utils.logging.quiet_third_party).
_logging.getLogger("bitsandbytes").setLevel(_logging.ERROR)
