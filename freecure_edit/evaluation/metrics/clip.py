"""PC (CLIP-T): the cosine between CLIP's embedding of the output and of the prompt, through
transformers' CLIPModel and CLIPProcessor.

The paper uses "the official vision transformer provided by OpenAI" without naming a size. The default is
openai/clip-vit-large-patch14, the largest OpenAI CLIP at 224 px and the checkpoint most CLIP-T numbers
in the personalization literature are read with; note that SD 1.x conditions on this model's text tower,
which may favour SD 1.x outputs. openai/clip-vit-base-patch32 is the cheaper option (--clip-model).
"""

from __future__ import annotations

import torch

from freecure_edit.errors import ConfigurationError, ModelNotFoundError
from freecure_edit.evaluation.metrics.base import Metric, Sample

DEFAULT_CLIP_MODEL = "openai/clip-vit-large-patch14"


class ClipMetric(Metric):
    name = "clip"
    provides = ("pc",)

    def __init__(self, model: str | None = None, device: str | torch.device = "cpu"):
        from transformers import CLIPModel, CLIPProcessor

        self.source = str(model or DEFAULT_CLIP_MODEL)
        try:
            self.model = CLIPModel.from_pretrained(self.source).eval().to(device)
            self.processor = CLIPProcessor.from_pretrained(self.source)
        except OSError:
            raise ModelNotFoundError(
                f"CLIP model {self.source} is not on disk and the Hub cannot be reached: run "
                f"`hf download {self.source}` while online, or pass a local folder with --clip-model"
            ) from None
        except (ValueError, RuntimeError) as error:
            raise ConfigurationError(f"{self.source} is not a CLIP model: {str(error).splitlines()[0]}") from None
        self.device = device
        self._text: dict[str, torch.Tensor] = {}

    @torch.no_grad()
    def _text_embedding(self, prompt: str) -> torch.Tensor:
        if prompt not in self._text:
            tokens = self.processor.tokenizer([prompt], padding=True, truncation=True, return_tensors="pt")
            output = self.model.text_model(**{k: v.to(self.device) for k, v in tokens.items()})
            embedding = self.model.text_projection(output.pooler_output)
            self._text[prompt] = torch.nn.functional.normalize(embedding.float(), dim=-1)[0]
        return self._text[prompt]

    @torch.no_grad()
    def image_embedding(self, image) -> torch.Tensor:
        pixels = self.processor.image_processor(images=[image.convert("RGB")], return_tensors="pt")["pixel_values"]
        output = self.model.vision_model(pixel_values=pixels.to(self.device, self.model.dtype))
        embedding = self.model.visual_projection(output.pooler_output)
        return torch.nn.functional.normalize(embedding.float(), dim=-1)[0]

    def score(self, sample: Sample) -> dict[str, float | None]:
        cosine = torch.dot(self.image_embedding(sample.output), self._text_embedding(sample.prompt))
        return {"pc": float(cosine)}

    def describe(self) -> dict:
        return {"name": self.name, "model": self.source}
