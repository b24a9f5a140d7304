"""Office Open XML engines (DOCX, PPTX, XLSX) over one safely opened package layer."""
