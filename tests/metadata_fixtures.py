"""Photos that carry the private metadata a phone or camera writes (GPS, serial numbers, owner, host
computer, maker notes, XMP, a tool's text chunk), and a list of what of it a written image still has."""

from __future__ import annotations

from pathlib import Path

from PIL import ExifTags, Image, PngImagePlugin

Base = ExifTags.Base
XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:Description exif:GPSLatitude="48,51.4N"/></x:xmpmeta>'


def _private_exif() -> Image.Exif:
    exif = Image.Exif()
    exif[Base.Make] = "PhoneCo"
    exif[Base.Model] = "P1"
    exif[Base.Copyright] = "(c) A. Photographer"
    exif[Base.HostComputer] = "alice-laptop"
    sub = exif.get_ifd(ExifTags.IFD.Exif)
    sub[Base.DateTimeOriginal] = "2024:05:06 07:08:09"
    sub[Base.FNumber] = 2.8
    sub[Base.BodySerialNumber] = "SN-0042"
    sub[Base.LensSerialNumber] = "LN-7"
    sub[Base.CameraOwnerName] = "Alice Example"
    sub[Base.ImageUniqueID] = "0123456789abcdef"
    sub[Base.MakerNote] = b"vendor secrets"
    sub[Base.UserComment] = b"ASCII\0\0\0at home"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (48.0, 51.0, 24.0)
    return exif


def write_private_jpeg(path: Path, size: tuple[int, int] = (48, 40)) -> Path:
    Image.new("RGB", size, (120, 90, 60)).save(path, exif=_private_exif(), xmp=XMP, dpi=(300, 300),
                                               comment="taken by Alice", quality=95)
    return path


def write_private_png(path: Path) -> Path:
    info = PngImagePlugin.PngInfo()
    info.add_text("Title", "Portrait")
    info.add_text("workflow", '{"path": "/home/alice/secret"}')
    info.add_itxt("XML:com.adobe.xmp", XMP.decode())
    Image.new("RGB", (48, 40), (120, 90, 60)).save(path, pnginfo=info, exif=_private_exif())
    return path


def private_parts(image: Image.Image) -> list[str]:
    exif = image.getexif()
    sub = exif.get_ifd(ExifTags.IFD.Exif)
    found = [name for name, tag in (("serial", Base.BodySerialNumber), ("lens serial", Base.LensSerialNumber),
                                    ("owner", Base.CameraOwnerName), ("unique id", Base.ImageUniqueID),
                                    ("maker note", Base.MakerNote)) if tag in sub]
    if exif.get_ifd(ExifTags.IFD.GPSInfo):
        found.append("gps")
    if Base.HostComputer in exif:
        found.append("host")
    if image.info.get("xmp") or "XML:com.adobe.xmp" in image.info:
        found.append("xmp")
    if b"at home" in bytes(sub.get(Base.UserComment, b"") or b""):
        found.append("camera's user comment")
    if "workflow" in image.info:
        found.append("tool text")
    return found
