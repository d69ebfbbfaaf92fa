#!/usr/bin/python3
"""Independent reference values for osteofm's input geometry (resize + centre crop).

Run with Debian's python3-pil (Pillow 9.4) and python3-numpy, which share no code with
LibTorch (what osteofm resizes with). Each case is a small non-square float image taken
through the steps the upstream processors take:

  crop:   short side -> floor(size / crop_fraction) (timm's scale_size), long side
          int(new_short * long / short) (HF get_resize_output_image_size, torchvision
          Resize), PIL BICUBIC; then a size x size centre crop whose start is
          (extent - size) // 2 (HF center_crop, "floor") or round((extent - size) / 2)
          (torchvision CenterCrop, "round", half to even);
  squash: PIL BICUBIC straight to size x size (BlipImageProcessor).

The interpolation difference, stated: PIL runs here on mode "F" (float32 pixels, double
filter weights). The HF processors resize 8-bit RGB, where PIL rounds its weights to fixed
point and every pass to 8 bits; osteofm resizes the float radiograph (no 8-bit step) and
stores it on a 16-bit grid. So osteofm matches this float reference to ~1e-5, and the 8-bit
HF pipeline to within its own 8-bit rounding (about 1/255). Values are clipped to [0, 1]
here as osteofm clips its input (bicubic overshoots slightly at edges).

    /usr/bin/python3 tests/reference/geometry_golden.py > tests/data/geometry_golden.json
"""
import json
import math

import numpy as np
from PIL import Image


def image(height, width, seed):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    smooth = 0.5 + 0.3 * np.sin(x / 3.1 + seed) * np.cos(y / 4.7) + 0.1 * (x / width) - 0.05 * (y / height)
    return np.clip(smooth + 0.08 * rng.standard_normal((height, width)), 0.0, 1.0).astype(np.float32)


def resize(a, height, width):
    return np.asarray(Image.fromarray(a, mode="F").resize((width, height), Image.BICUBIC), dtype=np.float64)


def crop_start(extent, size, offset):
    if offset == "floor":
        return (extent - size) // 2
    return int(round((extent - size) / 2.0))  # Python 3 rounds half to even, as torchvision does


def case(name, height, width, size, fit, crop_fraction=1.0, offset="floor", seed=0):
    a = image(height, width, seed)
    if fit == "squash":
        rh, rw, top, left = size, size, 0, 0
        out = resize(a, size, size)
    else:
        new_short = int(math.floor(size / crop_fraction + 1e-9))
        short, long = (width, height) if width <= height else (height, width)
        new_long = int(new_short * long / short)
        rh, rw = (new_long, new_short) if width <= height else (new_short, new_long)
        top, left = crop_start(rh, size, offset), crop_start(rw, size, offset)
        out = resize(a, rh, rw)[top:top + size, left:left + size]
    return {"name": name, "height": height, "width": width, "size": size, "fit": fit,
            "crop_fraction": crop_fraction, "crop_offset": offset,
            "resized": [rh, rw], "crop_start": [top, left],
            "input": [round(float(v), 8) for v in a.ravel()],
            "expected": [round(float(v), 8) for v in np.clip(out, 0.0, 1.0).ravel()]}


cases = [
    # DINOv2's 256 -> 224 at small scale: 14 / 0.875 = 16; long side int(16 * 37 / 23) =
    # int(25.74) = 25 (rounding would give 26); width margin 11: floor starts at 5.
    case("landscape, crop fraction 0.875, floor", 23, 37, 14, "crop", 0.875, "floor", 1),
    # Portrait: long side int(16 * 45 / 29) = 24, margins 10 and 2.
    case("portrait, crop fraction 0.875, round", 45, 29, 14, "crop", 0.875, "round", 2),
    # Whole short side: int(16 * 50 / 31) = 25, margin 9: round(4.5) = 4 (half to even).
    case("landscape, whole short side, round (4.5 -> 4)", 31, 50, 16, "crop", 1.0, "round", 3),
    # int(16 * 41 / 28) = 23, margin 7: floor 3, round(3.5) = 4.
    case("landscape, whole short side, floor", 28, 41, 16, "crop", 1.0, "floor", 4),
    case("landscape, whole short side, round (3.5 -> 4)", 28, 41, 16, "crop", 1.0, "round", 4),
    # Upsampling: a 9 x 13 image to short side 16 (PIL's kernel without widening).
    case("upsampling, crop fraction 0.875", 9, 13, 14, "crop", 0.875, "floor", 5),
    case("squash", 33, 21, 14, "squash", 1.0, "floor", 6),
]
print(json.dumps({"generator": "tests/reference/geometry_golden.py (Pillow %s, numpy %s)" %
                  (__import__("PIL").__version__, np.__version__),
                  "cases": cases}))
