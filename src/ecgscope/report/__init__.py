"""Printable ECG reports: the 12-lead at true scale (25 mm/s, 10 mm/mV) with findings, as PDF."""

from ecgscope.report.layout import PAGE_MM, ReportLayout, lead_rows
from ecgscope.report.pdf import render_report

__all__ = ["PAGE_MM", "ReportLayout", "lead_rows", "render_report"]
