"""Rendering issued documents for people: PDF."""

from .pdf import FONT_DIR_ENV, FontNotFoundError, Fonts, find_font_dir, load_fonts, render_pdf

__all__ = ["FONT_DIR_ENV", "FontNotFoundError", "Fonts", "find_font_dir", "load_fonts", "render_pdf"]
