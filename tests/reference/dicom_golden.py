#!/usr/bin/python3
"""Independent reference values for osteofm's DICOM reader.

Run with Debian's python3-pydicom (2.3) and python3-gdcm, which share no code with
DCMTK (what osteofm decodes with). For every decodable file in
public-cxr/dicom it applies the chain osteofm promises:
stored value -> modality LUT (rescale or LUT sequence) -> VOI (LUT sequence first,
else the first window, else the full range the modality output can take) ->
[0,1] -> MONOCHROME1 inverted (bone bright). It prints JSON with the size, mean
and a 7x7 grid of sampled values, which tests/data/dicom_golden.json freezes.

    /usr/bin/python3 tests/reference/dicom_golden.py ../shared > tests/data/dicom_golden.json
"""
import json, os, sys
import numpy as np
import pydicom
from pydicom.pixel_data_handlers.util import apply_modality_lut, apply_voi_lut

shared = sys.argv[1]
base = os.path.join(shared, "data/public-cxr/dicom")
files = ["nema-wg04/RG1_J2KI.dcm", "nema-wg04/RG2_JPLL.dcm", "nema-wg04/RG2_RLE.dcm",
         "classic-samples/CR-MONO1-10-chest.dcm",
         "siim-acr-via-torchxrayvision/1.2.276.0.7230010.3.1.4.8323329.6904.1517875201.850819.dcm",
         "siim-acr-via-torchxrayvision/Fake_MONOHR1.dcm",
         "fo-dicom/CR-ModalitySequenceLUT.dcm", "pydicom/mlut_18.dcm", "pydicom/vlut_04.dcm",
         "pydicom/CT_small.dcm", "pydicom/JLSL_16_15_1_1F.dcm"]


def modality_range(ds):
    bs = int(ds.BitsStored)
    if int(ds.PixelRepresentation) == 1:
        lo, hi = -(1 << (bs - 1)), (1 << (bs - 1)) - 1
    else:
        lo, hi = 0, (1 << bs) - 1
    if "ModalityLUTSequence" in ds:
        item = ds.ModalityLUTSequence[0]
        nbits = int(item.LUTDescriptor[2])
        return 0.0, float((1 << nbits) - 1)
    slope = float(getattr(ds, "RescaleSlope", 1) or 1)
    icpt = float(getattr(ds, "RescaleIntercept", 0) or 0)
    a, b = lo * slope + icpt, hi * slope + icpt
    return min(a, b), max(a, b)


out = {}
for rel in files:
    ds = pydicom.dcmread(os.path.join(base, rel), force=True)
    if "TransferSyntaxUID" not in ds.file_meta:
        ds.file_meta.TransferSyntaxUID = pydicom.uid.ImplicitVRLittleEndian
    arr = ds.pixel_array.astype(np.int64)
    bs = int(ds.BitsStored)
    if int(ds.PixelRepresentation) == 1 and bs < int(ds.BitsAllocated):
        # pydicom 2.3's GDCM path does not sign-extend below BitsAllocated; do it here
        arr = arr & ((1 << bs) - 1)
        arr = np.where(arr >= (1 << (bs - 1)), arr - (1 << bs), arr)
    mod = apply_modality_lut(arr, ds).astype(np.float64)
    if "VOILUTSequence" in ds:
        item = ds.VOILUTSequence[0]
        nbits = int(item.LUTDescriptor[2])
        y = apply_voi_lut(mod.astype(np.int64), ds, index=0, prefer_lut=True).astype(np.float64)
        y = y / float((1 << nbits) - 1)
        voi = "lut"
    elif "WindowCenter" in ds and "WindowWidth" in ds:
        c = ds.WindowCenter; w = ds.WindowWidth
        c = float(c[0] if isinstance(c, pydicom.multival.MultiValue) else c)
        w = float(w[0] if isinstance(w, pydicom.multival.MultiValue) else w)
        # DICOM PS3.3 C.11.2.1.2.1, linear function, output in [0,1]
        y = ((mod - (c - 0.5)) / (w - 1.0) + 0.5)
        y = np.clip(y, 0.0, 1.0)
        voi = "window"
    else:
        lo, hi = modality_range(ds)
        y = (mod - lo) / (hi - lo)
        voi = "range"
    if ds.PhotometricInterpretation == "MONOCHROME1":
        y = 1.0 - y
    h, w_ = y.shape
    grid = [[float(y[int((i + 0.5) * h / 7), int((j + 0.5) * w_ / 7)]) for j in range(7)] for i in range(7)]
    out[rel] = {"rows": h, "cols": w_, "mean": float(y.mean()), "voi": voi,
                "photometric": str(ds.PhotometricInterpretation), "grid7": grid}
json.dump({"generator": "tests/reference/dicom_golden.py, pydicom " + pydicom.__version__,
           "files": out}, sys.stdout, indent=1)
