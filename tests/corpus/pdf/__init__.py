"""Generators of test PDFs, one module per independent producer.

Nothing here is committed as a binary: every function writes a fresh PDF into
a directory the test gives it (pytest's ``tmp_path``) and returns the path.
Producers: reportlab (Type1 standard fonts, outlines, annotations, forms,
images), fpdf2 (embedded DejaVu TrueType as Type0/Identity-H), Ghostscript
(ps2pdf from hand-written PostScript: embedded Type1C subsets, Type3), and
hand-written content streams through pikepdf (every operator and font kind
the engine must handle, plus hostile files).
"""

#: The secret every corpus document mentions, and the neighbours that must survive.
SECRET = "Kestrel Dynamics"
SECRET_WORD = "Kestrel"
KEPT = "turbine"
