"""PDFs made with fpdf2 embedding DejaVu TrueType (Type0, Identity-H, ToUnicode)."""

from __future__ import annotations

from pathlib import Path

from fpdf import FPDF

from tests.corpus.pdf import SECRET

DEJAVU = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
DEJAVU_BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"


def embedded_truetype(dirpath: Path, pages: int = 1) -> Path:
    path = dirpath / "fpdf2_dejavu.pdf"
    pdf = FPDF()
    pdf.add_font("DejaVu", "", DEJAVU)
    pdf.add_font("DejaVu", "B", DEJAVU_BOLD)
    pdf.set_title("Quarterly list")
    pdf.set_author(SECRET)
    for n in range(pages):
        pdf.add_page()
        pdf.set_font("DejaVu", size=12)
        pdf.cell(text=f"Lieferung an {SECRET} für die turbine, Größe 4.", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("DejaVu", "B", size=12)
        pdf.cell(text=f"Kunde: Müller & Söhne, page {n + 1}", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("DejaVu", size=10)
        pdf.multi_cell(w=0, text=f"The turbine for {SECRET} ships in May. Endverbleib bestätigt.")
    pdf.output(str(path))
    return path
