"""Where each lead goes on a printed page, in millimetres (no drawing here).

Clinical 12-lead layout (3x4 + rhythm strip): three rows of four 2.5-s columns
(I aVR V1 V4 / II aVL V2 V5 / III aVF V3 V6), each column showing the same 2.5 s of its leads,
then lead II over the whole 10 s.  Records that are not 12-lead (wearables, Holter excerpts) are
printed as full-width strips, one lead and 10-s segment per row.
"""

from __future__ import annotations

from dataclasses import dataclass

from ecgscope.leads import STANDARD_LEADS
from ecgscope.record import Record

PAGE_MM = (297.0, 210.0)  # A4 landscape
GRID_3X4 = (("I", "aVR", "V1", "V4"), ("II", "aVL", "V2", "V5"), ("III", "aVF", "V3", "V6"))
RHYTHM_LEAD_PREFERENCE = ("II", "V1", "I")


@dataclass(frozen=True)
class Segment:
    """One lead drawn over ``[t0, t0 + duration)`` s of the record, starting ``x_mm`` into the row."""

    lead: str
    t0: float
    duration: float
    x_mm: float


@dataclass(frozen=True)
class ReportLayout:
    """The printed scale and the grid's place on the page (all lengths in mm, y upward)."""

    speed_mm_s: float = 25.0
    gain_mm_mv: float = 10.0
    grid_x0: float = 16.0
    grid_width: float = 265.0      # 53 large squares
    grid_top: float = 172.0        # page y of the grid's top edge
    row_height: float = 30.0       # 6 large squares: ±1.5 mV around the baseline
    rows_per_page: int = 4
    pulse_width_mm: float = 5.0    # 0.2 s at 25 mm/s, 1 mV tall: the standard calibration pulse
    trace_x0: float = 10.0         # traces start after the calibration pulse (mm from the grid's left)

    @property
    def grid_height(self) -> float:
        return self.row_height * self.rows_per_page

    @property
    def grid_bottom(self) -> float:
        return self.grid_top - self.grid_height

    @property
    def seconds_per_row(self) -> float:
        return (self.grid_width - self.trace_x0 - 5.0) / self.speed_mm_s

    def baseline_y(self, row: int) -> float:
        """Page y (mm) of row ``row``'s 0 mV line: 3/5 down the row leaves room for tall R waves."""
        return self.grid_top - row * self.row_height - 0.6 * self.row_height

    def x_of(self, seg: Segment, t: float) -> float:
        return self.grid_x0 + self.trace_x0 + seg.x_mm + (t - seg.t0) * self.speed_mm_s


def is_standard_12(record: Record) -> bool:
    return all(lead in record.leads for lead in STANDARD_LEADS)


MAX_STRIP_ROWS = 12  # three pages; a Holter is not printed whole


def lead_rows(record: Record, layout: ReportLayout | None = None) -> list[list[Segment]]:
    """The rows to print, each a list of segments; 3x4 + rhythm for 12 leads, strips otherwise.

    Strips show each lead's consecutive 10-s segments (at most :data:`MAX_STRIP_ROWS` rows in all).
    """
    layout = layout or ReportLayout()
    span = min(layout.seconds_per_row, record.duration_s)
    if is_standard_12(record):
        col = span / 4
        rows = [[Segment(lead, c * col, col, c * col * layout.speed_mm_s) for c, lead in enumerate(names)]
                for names in GRID_3X4]
        rhythm = next(lead for lead in RHYTHM_LEAD_PREFERENCE if lead in record.leads)
        rows.append([Segment(rhythm, 0.0, span, 0.0)])
        return rows
    rows = []
    n_segments = max(1, int(-(-record.duration_s // layout.seconds_per_row)))
    for lead in record.leads:
        for k in range(n_segments):
            t0 = k * layout.seconds_per_row
            dur = min(layout.seconds_per_row, record.duration_s - t0)
            if dur > 0.5 and len(rows) < MAX_STRIP_ROWS:
                rows.append([Segment(lead, t0, dur, 0.0)])
    return rows
