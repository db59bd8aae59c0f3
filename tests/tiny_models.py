"""Builders of tiny, randomly initialised diffusers pipelines and a LaMa-shaped TorchScript file.

They are saved with ``save_pretrained`` (the layout of a hub snapshot) so the tests and the benchmark load them
back through aifx's own loader, exactly as a user's local model folder would be. Nothing is downloaded: the
CLIP tokenizer is built from a vocabulary written here. The weights are random, so the pictures are noise; the
plumbing (crop, colour, seed, cache, compositing) is what is being tested.
"""

from __future__ import annotations

import warnings
from pathlib import Path

#: Tokens of the tiny vocabulary: enough single characters for any ASCII prompt, plus CLIP's specials.
_SPECIALS = ["<|startoftext|>", "<|endoftext|>"]


def _tiny_tokenizer(folder: Path):
    """A CLIP tokenizer read from a vocab.json/merges.txt pair written here (how CLIP ships its own)."""
    import json

    from transformers import CLIPTokenizer

    chars = [chr(c) for c in range(33, 127)]
    vocab_tokens = chars + [c + "</w>" for c in chars] + ["lo", "er</w>"] + _SPECIALS
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps({token: i for i, token in enumerate(vocab_tokens)}))
    (folder / "merges.txt").write_text("#version: 0.2\nl o\ne r</w>\n")
    return CLIPTokenizer.from_pretrained(str(folder), model_max_length=77)


def _tiny_parts(in_channels: int, latent_size: int, folder: Path, attention: bool = True):
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        sample_size=latent_size,
        in_channels=in_channels,
        out_channels=4,
        block_out_channels=(8, 16),
        layers_per_block=1,
        norm_num_groups=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D" if attention else "DownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D" if attention else "UpBlock2D", "UpBlock2D"),
        mid_block_type="UNetMidBlock2DCrossAttn" if attention else None,
        cross_attention_dim=16,
        attention_head_dim=2,
    )
    vae = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        block_out_channels=(8, 16),
        layers_per_block=1,
        norm_num_groups=4,
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
        latent_channels=4,
        sample_size=latent_size * 2,
        mid_block_add_attention=attention,
    )
    tokenizer = _tiny_tokenizer(Path(folder).with_name(Path(folder).name + "-vocab"))
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=len(tokenizer),
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            max_position_embeddings=77,
            projection_dim=16,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        )
    )
    scheduler = DDIMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
    )
    return {
        "unet": unet,
        "vae": vae,
        "text_encoder": text_encoder,
        "tokenizer": tokenizer,
        "scheduler": scheduler,
    }


def paint_white(vae) -> None:
    """Make a VAE's decoder output pure white whatever the latents (its last convolution: weights 0, bias far
    above the top of its [-1, 1] range, which diffusers clamps): a model that paints nothing but white, as a
    real one does on a white wall or an overexposed sky."""
    import torch

    conv = vae.decoder.conv_out
    with torch.no_grad():
        conv.weight.zero_()
        conv.bias.fill_(4.0)


def paint_nan(vae) -> None:
    """Make a VAE's decoder output NaN whatever the latents: what an fp16 VAE that overflows gives."""
    import torch

    with torch.no_grad():
        vae.decoder.conv_out.bias.fill_(float("nan"))


def build_tiny_inpaint_pipeline(
    folder: Path, latent_size: int = 32, attention: bool = True, white: bool = False, nan: bool = False
) -> Path:
    """Save a random ``StableDiffusionInpaintPipeline`` (9-channel UNet) whose native size is ``2 * latent_size``.

    ``attention=False`` drops every self/cross-attention layer (UNet and VAE), whose cost grows with the square of
    the pixel count: the benchmark's larger model would otherwise spend all its time there. ``white``: the model
    paints only white (:func:`paint_white`)."""
    from diffusers import StableDiffusionInpaintPipeline

    pipe = StableDiffusionInpaintPipeline(
        **_tiny_parts(9, latent_size, folder, attention),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    if white:
        paint_white(pipe.vae)
    if nan:
        paint_nan(pipe.vae)
    pipe.save_pretrained(folder)
    return Path(folder)


def build_tiny_text2image_pipeline(folder: Path, latent_size: int = 32, nan: bool = False) -> Path:
    """Save a random ``StableDiffusionPipeline`` (4-channel UNet) whose native size is ``2 * latent_size``;
    ``nan``: its VAE returns NaN (:func:`paint_nan`)."""
    from diffusers import StableDiffusionPipeline

    pipe = StableDiffusionPipeline(
        **_tiny_parts(4, latent_size, folder),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    if nan:
        paint_nan(pipe.vae)
    pipe.save_pretrained(folder)
    return Path(folder)


def build_tiny_flux_fill_pipeline(folder: Path) -> Path:
    """Save a random ``FluxFillPipeline`` (the sizes diffusers' own fast tests use; T5 tokenizer built here)."""
    import torch
    from diffusers import (
        AutoencoderKL,
        FlowMatchEulerDiscreteScheduler,
        FluxFillPipeline,
        FluxTransformer2DModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel, T5Config, T5EncoderModel, T5Tokenizer

    letters = "abcdefghijklmnopqrstuvwxyz"
    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
    pieces += [("\u2581" + c, -1.0) for c in letters] + [(c, -2.0) for c in letters]
    tokenizer_2 = T5Tokenizer(vocab=pieces, extra_ids=0)
    tokenizer = _tiny_tokenizer(Path(folder).with_name(Path(folder).name + "-vocab"))
    torch.manual_seed(0)
    transformer = FluxTransformer2DModel(
        patch_size=1,
        in_channels=20,  # packed latents 8 + packed masked-image latents 8 + packed mask 4
        out_channels=8,
        num_layers=1,
        num_single_layers=1,
        attention_head_dim=16,
        num_attention_heads=2,
        joint_attention_dim=32,
        pooled_projection_dim=32,
        axes_dims_rope=[4, 4, 8],
    )
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=len(tokenizer),
            hidden_size=32,
            intermediate_size=37,
            num_hidden_layers=1,
            num_attention_heads=4,
            projection_dim=32,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        )
    )
    text_encoder_2 = T5EncoderModel(
        T5Config(vocab_size=len(tokenizer_2), d_model=32, d_kv=8, d_ff=37, num_layers=1, num_heads=4)
    )
    vae = AutoencoderKL(
        sample_size=32,
        in_channels=3,
        out_channels=3,
        block_out_channels=(4,),
        layers_per_block=1,
        latent_channels=2,
        norm_num_groups=1,
        use_quant_conv=False,
        use_post_quant_conv=False,
        shift_factor=0.0609,
        scaling_factor=1.5035,
    )
    pipe = FluxFillPipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(),
        text_encoder=text_encoder,
        text_encoder_2=text_encoder_2,
        tokenizer=tokenizer,
        tokenizer_2=tokenizer_2,
        transformer=transformer,
        vae=vae,
    )
    pipe.save_pretrained(folder)
    return Path(folder)


def _tiny_wan_parts():
    """The parts every tiny Wan pipeline shares: a T5 tokenizer built here, the VAE and a UMT5 encoder."""
    import torch
    from diffusers import AutoencoderKLWan, FlowMatchEulerDiscreteScheduler
    from transformers import T5Tokenizer, UMT5Config, UMT5EncoderModel

    letters = "abcdefghijklmnopqrstuvwxyz"
    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
    pieces += [("\u2581" + c, -1.0) for c in letters] + [(c, -2.0) for c in letters]
    tokenizer = T5Tokenizer(vocab=pieces, extra_ids=0)
    torch.manual_seed(0)
    vae = AutoencoderKLWan(
        base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1, temperal_downsample=[False, True, True]
    )
    text_encoder = UMT5EncoderModel(
        UMT5Config(vocab_size=len(tokenizer), d_model=32, d_kv=8, d_ff=37, num_layers=1, num_heads=4)
    )
    return {
        "vae": vae,
        "scheduler": FlowMatchEulerDiscreteScheduler(shift=7.0),
        "text_encoder": text_encoder,
        "tokenizer": tokenizer,
    }


#: Transformer sizes of diffusers' own fast Wan tests.
_WAN_TRANSFORMER = dict(
    patch_size=(1, 2, 2),
    num_attention_heads=2,
    attention_head_dim=12,
    in_channels=16,
    out_channels=16,
    text_dim=32,
    freq_dim=256,
    ffn_dim=32,
    cross_attn_norm=True,
    qk_norm="rms_norm_across_heads",
    rope_max_seq_len=32,
)


def build_tiny_wan_vace_pipeline(folder: Path, white: bool = False, nan: bool = False) -> Path:
    """Save a random ``WanVACEPipeline`` (masked video diffusion) at the sizes of diffusers' own fast tests,
    with a UMT5 encoder and a T5 tokenizer built here instead of downloaded; ``white``: it paints only white;
    ``nan``: its VAE returns NaN."""
    from diffusers import WanVACEPipeline, WanVACETransformer3DModel

    parts = _tiny_wan_parts()
    if white:
        paint_white(parts["vae"])
    if nan:
        paint_nan(parts["vae"])
    transformer = WanVACETransformer3DModel(
        num_layers=3, vace_layers=[0, 2], vace_in_channels=96, **_WAN_TRANSFORMER
    )
    WanVACEPipeline(transformer=transformer, **parts).save_pretrained(folder)
    return Path(folder)


def build_tiny_wan_t2v_pipeline(folder: Path, nan: bool = False) -> Path:
    """Save a random text-to-video ``WanPipeline`` (previz) with the same tiny parts; ``nan``: its VAE returns
    NaN."""
    from diffusers import WanPipeline, WanTransformer3DModel

    parts = _tiny_wan_parts()
    if nan:
        paint_nan(parts["vae"])
    transformer = WanTransformer3DModel(num_layers=2, **_WAN_TRANSFORMER)
    WanPipeline(transformer=transformer, **parts).save_pretrained(folder)
    return Path(folder)


def build_tiny_lama(path: Path, nan: bool = False) -> Path:
    """Save a scripted module with big-lama's calling convention: ``model(image, mask) -> image``.

    ``image`` is (1, 3, H, W) in [0, 1], ``mask`` (1, 1, H, W) in {0, 1}. It fills the hole with the mean colour
    of the known pixels (plus a small convolution so it has weights), and refuses sizes that are not a multiple
    of 8 the way the real export's downsampling would. ``nan``: it returns NaN (a half-precision export that
    overflows).
    """
    import torch

    offset = float("nan") if nan else 0.0

    class TinyLama(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.offset = offset
            self.blur = torch.nn.Conv2d(3, 3, 3, padding=1, bias=False)
            with torch.no_grad():
                self.blur.weight.fill_(0.0)
                for c in range(3):
                    self.blur.weight[c, c].fill_(1.0 / 9.0)

        def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            if image.shape[2] % 8 != 0 or image.shape[3] % 8 != 0:
                raise RuntimeError("height and width must be multiples of 8")
            known = 1.0 - mask
            mean = (image * known).sum(dim=(2, 3), keepdim=True) / known.sum(dim=(2, 3), keepdim=True).clamp(
                min=1.0
            )
            filled = image * known + mean * mask
            return self.blur(filled).clamp(0.0, 1.0) + self.offset

    with (
        warnings.catch_warnings()
    ):  # TorchScript is deprecated in torch 2.9+, but it is what big-lama ships as
        warnings.simplefilter("ignore", DeprecationWarning)
        scripted = torch.jit.script(TinyLama())
        scripted.save(str(path))
    return Path(path)


_BUILT: dict[str, Path] = {}


def cached_build(kind: str, root: Path) -> Path:
    """Build a tiny model once per test session (``kind``: ``inpaint``, ``text2image``, ``flux-fill``,
    ``wan-vace``, ``lama``, or ``inpaint-white``/``wan-vace-white``: models that paint only white, or
    ``inpaint-nan``/``text2image-nan``/``wan-vace-nan``/``wan-t2v-nan``/``lama-nan``: models that return NaN)."""
    if kind not in _BUILT:
        builders = {
            "inpaint": lambda: build_tiny_inpaint_pipeline(root / "tiny-inpaint"),
            "inpaint-white": lambda: build_tiny_inpaint_pipeline(root / "tiny-inpaint-white", white=True),
            "text2image": lambda: build_tiny_text2image_pipeline(root / "tiny-text2image"),
            "flux-fill": lambda: build_tiny_flux_fill_pipeline(root / "tiny-flux-fill"),
            "lama": lambda: build_tiny_lama(root / "tiny-lama.pt"),
            "wan-vace": lambda: build_tiny_wan_vace_pipeline(root / "tiny-wan-vace"),
            "wan-vace-white": lambda: build_tiny_wan_vace_pipeline(root / "tiny-wan-vace-white", white=True),
            "wan-t2v": lambda: build_tiny_wan_t2v_pipeline(root / "tiny-wan-t2v"),
            "inpaint-nan": lambda: build_tiny_inpaint_pipeline(root / "tiny-inpaint-nan", nan=True),
            "text2image-nan": lambda: build_tiny_text2image_pipeline(root / "tiny-text2image-nan", nan=True),
            "wan-vace-nan": lambda: build_tiny_wan_vace_pipeline(root / "tiny-wan-vace-nan", nan=True),
            "wan-t2v-nan": lambda: build_tiny_wan_t2v_pipeline(root / "tiny-wan-t2v-nan", nan=True),
            "lama-nan": lambda: build_tiny_lama(root / "tiny-lama-nan.pt", nan=True),
        }
        _BUILT[kind] = builders[kind]()
    return _BUILT[kind]
