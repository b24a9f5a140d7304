"""Video redaction: sampled frames OCR'd, findings boxed over time, audio and metadata dropped."""
