"""Generation mode: FreeCure inside a face-personalization model (IP-Adapter FaceID), as the paper runs it.

    fc = FreeCure.from_pretrained("stable-diffusion-v1-5/stable-diffusion-v1-5", detector="buffalo_l")
    fc.load_adapter("h94/IP-Adapter-FaceID")   # or weight_name="ip-adapter-faceid-plusv2_sd15.bin"
    result = fc.generate("me.jpg", "a photo of a woman with red curly hair, smiling", seed=3)
    result.image, result.pd_image, result.fd_image

May import the method (cure/, attention/, masks/), the backbones and the face packs; no front end.
"""

from freecure_edit.generation.adapter import DEFAULT_ADAPTER, LoadedAdapter, load_faceid_adapter
from freecure_edit.generation.result import GenerationResult

__all__ = ["DEFAULT_ADAPTER", "GenerationResult", "LoadedAdapter", "load_faceid_adapter"]
