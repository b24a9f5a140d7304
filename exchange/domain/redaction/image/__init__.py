"""Image redaction: OCR of pixels, opaque boxes, metadata stripped (see ``engine``)."""
