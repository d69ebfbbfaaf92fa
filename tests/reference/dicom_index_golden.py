#!/usr/bin/python3
"""Independent reference values for osteofm data index (the DICOM header index).

Run with Debian's python3-pydicom (2.3), which shares no code with DCMTK. For every file
under public-cxr/dicom it reads the header (stop_before_pixels) and derives the index's
fields by the rules osteofm promises: study date (DA, or ACR-NEMA's YYYY.MM.DD) from StudyDate, else SeriesDate,
AcquisitionDate, ContentDate; age from PatientAge (Y as is, M/12, W*7/365.25, D/365.25),
else whole years from PatientBirthDate to that date; pixel spacing from PixelSpacing,
else ImagerPixelSpacing; "ok" when the header parses and a native pixel data element
is as long as rows x columns x samples x bits allocated x frames.

    /usr/bin/python3 tests/reference/dicom_index_golden.py ../shared > tests/data/dicom_index_golden.json
"""
import json, os, sys
import pydicom

shared = sys.argv[1]
base = os.path.join(shared, "data/public-cxr/dicom")


def text(ds, name):
    v = ds.data_element(name) if name in ds else None
    if v is None or v.value is None:
        return ""
    if isinstance(v.value, pydicom.multival.MultiValue):
        return "\\".join(str(x) for x in v.value)
    return str(v.value).strip()


def iso(da):
    da = da.strip()
    if len(da) == 10 and da[4] == "." and da[7] == ".":  # ACR-NEMA's form
        da = da.replace(".", "")
    if len(da) == 8 and da.isdigit():
        return f"{da[0:4]}-{da[4:6]}-{da[6:8]}"
    return ""


def age(ds, study):
    a = text(ds, "PatientAge").upper()
    if len(a) == 4 and a[:3].isdigit() and a[3] in "DWMY":
        n = int(a[:3])
        return str(n) if a[3] == "Y" else "%.2f" % {"M": n / 12, "W": n * 7 / 365.25, "D": n / 365.25}[a[3]]
    b = iso(text(ds, "PatientBirthDate"))
    if b and study and b <= study:
        y = int(study[:4]) - int(b[:4])
        if study[5:] < b[5:]:
            y -= 1
        return str(y)
    return ""


out = {}
for root, _, names in os.walk(base):
    for name in sorted(names):
        path = os.path.join(root, name)
        rel = os.path.relpath(path, base)
        try:
            ds = pydicom.dcmread(path)
        except pydicom.errors.InvalidDicomError:
            # No preamble (ACR-NEMA style, or a damaged file): read as a bare data set, and
            # accepted only if it says what it is (SOP UID, and Modality or Rows) — the rule
            # osteofm applies to files without "DICM".
            try:
                ds = pydicom.dcmread(path, force=True)
                if "SOPInstanceUID" not in ds or not ("Modality" in ds or "Rows" in ds):
                    raise ValueError("no SOP instance")
            except Exception as e:
                out[rel] = {"ok": False, "why": type(e).__name__}
                continue
        except Exception as e:
            out[rel] = {"ok": False, "why": type(e).__name__}
            continue
        study = ""
        for tag in ("StudyDate", "SeriesDate", "AcquisitionDate", "ContentDate"):
            study = iso(text(ds, tag))
            if study:
                break
        row = {
            "image_id": text(ds, "SOPInstanceUID"), "patient_id": text(ds, "PatientID"),
            "study_date": study, "accession": text(ds, "AccessionNumber"),
            "modality": text(ds, "Modality").upper(), "body_part": text(ds, "BodyPartExamined").upper(),
            "view_position": text(ds, "ViewPosition").upper(), "sex": text(ds, "PatientSex").upper(),
            "age": age(ds, study), "manufacturer": text(ds, "Manufacturer"),
            "model": text(ds, "ManufacturerModelName"),
            "rows": str(ds.get("Rows", "") or ""), "columns": str(ds.get("Columns", "") or ""),
            "pixel_spacing": text(ds, "PixelSpacing") or text(ds, "ImagerPixelSpacing"),
            "photometric": text(ds, "PhotometricInterpretation"), "bits_stored": str(ds.get("BitsStored", "") or ""),
        }
        ok = "PixelData" in ds
        why = "" if ok else "no pixel data"
        tsyntax = ds.file_meta.get("TransferSyntaxUID", pydicom.uid.ImplicitVRLittleEndian)
        if ok and not tsyntax.is_compressed:
            frames = int(ds.get("NumberOfFrames", 1) or 1)
            expected = ds.Rows * ds.Columns * ds.get("SamplesPerPixel", 1) * (ds.BitsAllocated // 8) * frames
            if len(ds.PixelData) < expected:
                ok, why = False, "pixel data %d of %d bytes" % (len(ds.PixelData), expected)
        if ok and tsyntax.is_compressed:
            try:
                pydicom.encaps.generate_pixel_data_frame(ds.PixelData, int(ds.get("NumberOfFrames", 1) or 1)).__next__()
                list(pydicom.encaps.generate_pixel_data_frame(ds.PixelData, int(ds.get("NumberOfFrames", 1) or 1)))
            except Exception as e:
                ok, why = False, "encapsulated pixel data: " + type(e).__name__
        row["ok"] = ok
        if why:
            row["why"] = why
        out[rel] = row
json.dump(out, sys.stdout, indent=1, sort_keys=True)
print()
