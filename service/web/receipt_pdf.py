"""The consent receipt as a PDF: a file a participant can keep on their phone.

Made with fpdf2's built-in Helvetica (no font file, no network), uncompressed so that what it
says can be checked on its bytes: the record number, the fingerprint, the time, the form
version and the clauses agreed. It never holds the token, the study ID or the typed name.
"""

from __future__ import annotations

from collections.abc import Mapping

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from service.services.consent import Receipt

# Helvetica covers Latin-1 only: typographic punctuation is written plainly.
_PLAIN = str.maketrans(
    {"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-"}
)


def _latin1(text: str) -> str:
    return text.translate(_PLAIN).encode("latin-1", "replace").decode("latin-1")


def receipt_pdf(
    receipt: Receipt, clause_texts: Mapping[str, str], signed_at: str, study_name: str
) -> bytes:
    """The receipt of a signed consent form, as PDF bytes."""
    pdf = FPDF(format="A4")
    pdf.compress = False
    pdf.set_title("Consent receipt")
    pdf.set_creator(study_name)
    pdf.set_margins(20, 20, 20)
    pdf.add_page()

    def line(text: str, size: int = 11, style: str = "", gap: float = 2) -> None:
        pdf.set_font("Helvetica", style, size)
        pdf.multi_cell(0, size * 0.55, _latin1(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(gap)

    line(study_name, 12, "B")
    line("You have signed the consent form", 18, "B", 6)
    line("Keep this receipt. It shows where your signature is kept in the study's consent record.")
    for key, value in (
        ("Signed at", signed_at),
        ("Record number", str(receipt.seq)),
        ("Fingerprint", receipt.hash),
        ("Form version", receipt.form_version or ""),
    ):
        line(key, 10, "B", 0)
        line(value, 11, "", 3)
    line("What you agreed to", 14, "B", 3)
    for clause, agreed in (receipt.clauses or {}).items():
        line(f"{'Yes' if agreed else 'No'}: {clause_texts.get(clause, clause)}", 10, "", 2)
    return bytes(pdf.output())
