"""Dumps the pixels pydicom decodes for DICOM files, as the reference for salip's reader.

Usage: /usr/bin/python3 pydicom-dump.py OUT_DIR FILE... ; writes OUT_DIR/<index>.bin (the
pixel array as little-endian float64, frames x rows x columns x samples) and prints one JSON
object per file: {file, ok, shape, photometric, transferSyntax} or {file, ok: false, error}.
"""
import json
import sys

import numpy as np
import pydicom
from pydicom.pixel_data_handlers.util import convert_color_space

out_dir = sys.argv[1]
for index, path in enumerate(sys.argv[2:]):
    record = {"file": path}
    try:
        ds = pydicom.dcmread(path, force=True)
        array = ds.pixel_array
        syntax = str(ds.file_meta.TransferSyntaxUID) if "TransferSyntaxUID" in getattr(ds, "file_meta", {}) else None
        # GDCM leaves lossy JPEG's YCbCr as stored; salip (like a viewer) shows RGB.
        if syntax in ("1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51") and str(ds.PhotometricInterpretation).startswith("YBR"):
            array = convert_color_space(array, "YBR_FULL", "RGB")
        frames = int(getattr(ds, "NumberOfFrames", 1) or 1)
        samples = int(getattr(ds, "SamplesPerPixel", 1))
        shape = [frames, int(ds.Rows), int(ds.Columns), samples]
        array.astype("<f8").reshape(shape).tofile(f"{out_dir}/{index}.bin")
        record.update(ok=True, shape=shape, photometric=str(ds.PhotometricInterpretation),
                      transferSyntax=syntax)
    except Exception as error:  # every failure is a result to compare, not a crash
        record.update(ok=False, error=f"{type(error).__name__}: {error}")
    print(json.dumps(record), flush=True)
