"""Reference tools for salip's DICOM tests, run with Debian's /usr/bin/python3 (pydicom, nibabel).

  dump OUT_DIR FILE...        pixels pydicom decodes: OUT_DIR/<i>.bin (float64, frames x rows x
                              columns x samples) and one JSON line per file ({ok, shape, ...} or
                              {ok: false, error})
  series OUT_DIR SPEC.json    writes single-frame MR files of a volume (SPEC: dims [nx, ny, nz],
                              raw float32 path, orientation, spacing, origin, series uid, shuffle)
  multiframe OUT SPEC.json    the same volume as one Enhanced MR multi-frame object
  seg FILE                    a SEG read back: JSON {shape, frames: [[segment, position]], refs}
                              and FILE.bin with the frames as uint8
  affine NIFTI                the affine nibabel reads, as JSON
  tobmp PNG BMP               a PNG as 24-bit BMP (img2dcm reads BMP and JPEG only)
"""
import json
import random
import sys

import numpy as np


def dump(out_dir, files):
    import pydicom
    from pydicom.pixel_data_handlers.util import convert_color_space
    for index, path in enumerate(files):
        record = {"file": path}
        try:
            ds = pydicom.dcmread(path, force=True)
            array = ds.pixel_array
            meta = getattr(ds, "file_meta", {})
            syntax = str(meta.TransferSyntaxUID) if "TransferSyntaxUID" in meta else None
            # GDCM leaves lossy JPEG's YCbCr as stored; salip (like a viewer) shows RGB.
            if syntax in ("1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51") and str(ds.PhotometricInterpretation).startswith("YBR"):
                array = convert_color_space(array, "YBR_FULL", "RGB")
            frames = int(getattr(ds, "NumberOfFrames", 1) or 1)
            shape = [frames, int(ds.Rows), int(ds.Columns), int(getattr(ds, "SamplesPerPixel", 1))]
            array.astype("<f8").reshape(shape).tofile(f"{out_dir}/{index}.bin")
            record.update(ok=True, shape=shape, transferSyntax=syntax)
        except Exception as error:  # a failure is a result to compare, not a crash
            record.update(ok=False, error=f"{type(error).__name__}: {error}")
        print(json.dumps(record), flush=True)


def load_spec(spec_path):
    """The spec, its volume as [z][y][x] and the slice normal (row direction x column direction)."""
    spec = json.load(open(spec_path))
    nx, ny, nz = spec["dims"]
    volume = np.fromfile(spec["data"], dtype="<f4").reshape(nz, ny, nx)
    normal = np.cross(np.array(spec["orientation"][:3]), np.array(spec["orientation"][3:]))
    return spec, volume, normal


def mr_dataset(sop_class, spec, study, frame_of_reference, series_uid):
    """A 16-bit signed MR data set of the spec's size, without geometry and pixels yet."""
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = sop_class, generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(None, {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.Modality, ds.PatientName, ds.PatientID = "MR", "Test^Volume", "salip-test"
    ds.StudyInstanceUID, ds.FrameOfReferenceUID, ds.SeriesInstanceUID = study, frame_of_reference, series_uid
    ds.Rows, ds.Columns = spec["dims"][1], spec["dims"][0]
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    ds.RescaleSlope, ds.RescaleIntercept = spec.get("slope", 1), spec.get("intercept", 0)
    ds.is_little_endian, ds.is_implicit_VR = True, False
    return ds


def stored(values, spec):
    return np.round((values - spec.get("intercept", 0)) / spec.get("slope", 1)).astype("<i2").tobytes()


def position(spec, normal, z):
    return [float(v) for v in np.array(spec["origin"]) + normal * spec["spacing"][2] * z]


def series(out_dir, spec_path):
    from pydicom.uid import generate_uid
    spec, volume, normal = load_spec(spec_path)
    order = list(range(spec["dims"][2]))
    if spec.get("shuffle"):
        random.Random(1).shuffle(order)
    study, frame = generate_uid(), generate_uid()
    for k, z in enumerate(order):
        series_uid = spec["seriesUid"] if k % 2 == 0 or not spec.get("mixed") else generate_uid()
        ds = mr_dataset("1.2.840.10008.5.1.4.1.1.4", spec, study, frame, series_uid)
        ds.InstanceNumber = z + 1
        ds.ImageOrientationPatient = [float(v) for v in spec["orientation"]]
        ds.PixelSpacing = [float(v) for v in spec["spacing"][:2]]
        ds.SliceThickness = float(spec["spacing"][2])
        ds.ImagePositionPatient = position(spec, normal, z)
        ds.PixelData = stored(volume[z], spec)
        ds.save_as(f"{out_dir}/slice{k:04d}.dcm", write_like_original=False)


def multiframe(out_path, spec_path):
    """The volume of SPEC as one Enhanced MR object: per-frame positions, shared orientation."""
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence
    from pydicom.uid import generate_uid
    spec, volume, normal = load_spec(spec_path)
    ds = mr_dataset("1.2.840.10008.5.1.4.1.1.4.1", spec, generate_uid(), generate_uid(), spec["seriesUid"])
    ds.NumberOfFrames = spec["dims"][2]
    shared, orientation, measures = Dataset(), Dataset(), Dataset()
    orientation.ImageOrientationPatient = [float(v) for v in spec["orientation"]]
    measures.PixelSpacing = [float(v) for v in spec["spacing"][:2]]
    measures.SliceThickness = float(spec["spacing"][2])
    shared.PlaneOrientationSequence, shared.PixelMeasuresSequence = Sequence([orientation]), Sequence([measures])
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    frames = []
    for z in range(spec["dims"][2]):
        item, plane = Dataset(), Dataset()
        plane.ImagePositionPatient = position(spec, normal, z)
        item.PlanePositionSequence = Sequence([plane])
        frames.append(item)
    ds.PerFrameFunctionalGroupsSequence = Sequence(frames)
    ds.PixelData = stored(volume, spec)
    ds.save_as(out_path, write_like_original=False)


def seg(path):
    import pydicom
    ds = pydicom.dcmread(path)
    frames = ds.pixel_array.reshape(int(ds.NumberOfFrames), int(ds.Rows), int(ds.Columns)).astype("u1")
    frames.tofile(path + ".bin")
    per_frame = []
    for item in ds.PerFrameFunctionalGroupsSequence:
        position = [float(v) for v in item.PlanePositionSequence[0].ImagePositionPatient] if "PlanePositionSequence" in item else None
        source = item.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID
        per_frame.append([int(item.SegmentIdentificationSequence[0].ReferencedSegmentNumber), position, str(source)])
    print(json.dumps({
        "shape": list(frames.shape),
        "frames": per_frame,
        "labels": [str(s.SegmentLabel) for s in ds.SegmentSequence],
        "algorithm": [str(s.SegmentAlgorithmType) + " " + str(s.SegmentAlgorithmName) for s in ds.SegmentSequence],
        "types": [str(s.SegmentedPropertyTypeCodeSequence[0].CodeValue) + " " + str(s.SegmentedPropertyTypeCodeSequence[0].CodeMeaning) for s in ds.SegmentSequence],
        "studyUid": str(ds.StudyInstanceUID),
        "seriesUid": str(ds.SeriesInstanceUID),
        "sopUid": str(ds.SOPInstanceUID),
        "frameOfReference": str(getattr(ds, "FrameOfReferenceUID", "")),
        "referencedSeries": str(ds.ReferencedSeriesSequence[0].SeriesInstanceUID),
    }))


def tobmp(png, bmp):
    from PIL import Image
    Image.open(png).convert("RGB").save(bmp)


def affine(path):
    import nibabel
    print(json.dumps(nibabel.load(path).affine.tolist()))


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    {"dump": lambda: dump(args[0], args[1:]), "series": lambda: series(*args), "multiframe": lambda: multiframe(*args), "seg": lambda: seg(*args), "affine": lambda: affine(*args), "tobmp": lambda: tobmp(*args)}[command]()
