// The median beat of every lead (schema 1.3 `median_beat`): the template the intervals and axes were measured
// on, drawn on a millimetre grid at 50 mm/s and 10 mm/mV, with the global fiducials it was measured at.

const SPEED_MM_S = 50;
const GAIN_MM_MV = 10;
const CELL_H_MM = 30;
const MARKS = [["p_on", "P"], ["qrs_on", "Q"], ["qrs_off", "J"], ["t_off", "Tend"]];

export default function MedianBeats({ medianBeat }) {
  if (!medianBeat?.signal_uv?.length) return null;
  const { leads, signal_uv: sig, fs, r_index: r, fiducials_ms: fid = {} } = medianBeat;
  const n = sig[0].length;
  const cellW = (n / fs) * SPEED_MM_S;
  const cols = leads.length > 3 ? 4 : leads.length;
  const rows = Math.ceil(leads.length / cols);
  const W = cols * cellW;
  const H = rows * CELL_H_MM;
  const xOf = (i) => (i / fs) * SPEED_MM_S;
  const xMs = (ms) => ((ms / 1000) * fs + r) / fs * SPEED_MM_S;
  return (
    <figure className="median-beats" data-testid="median-beats">
      <svg viewBox={`0 0 ${W} ${H}`} width="100%" role="img"
        aria-label={`median beats of ${leads.length} leads`}>
        <rect x="0" y="0" width={W} height={H} fill="#fff7f7" />
        {leads.map((lead, k) => {
          const cx = (k % cols) * cellW;
          const base = Math.floor(k / cols) * CELL_H_MM + 0.6 * CELL_H_MM;
          const pts = sig[k].map((uv, i) => `${(cx + xOf(i)).toFixed(2)},${(base - (uv / 1000) * GAIN_MM_MV).toFixed(2)}`);
          return (
            <g key={lead} data-testid={`median-${lead}`}>
              <rect x={cx} y={base - 0.6 * CELL_H_MM} width={cellW} height={CELL_H_MM} fill="none"
                stroke="#e07b7b" strokeWidth="0.2" />
              <polyline points={pts.join(" ")} fill="none" stroke="#000" strokeWidth="0.35" />
              <text x={cx + 1} y={base - 0.6 * CELL_H_MM + 4} fontSize="3.5" fontWeight="bold">{lead}</text>
              {MARKS.filter(([f]) => fid[f] !== null && fid[f] !== undefined).map(([f, label]) => (
                <line key={f} x1={cx + xMs(fid[f])} x2={cx + xMs(fid[f])} y1={base - 0.6 * CELL_H_MM + 5}
                  y2={base + 0.4 * CELL_H_MM - 1} stroke="#1f5fbf" strokeWidth="0.2" strokeDasharray="1 0.8">
                  <title>{label}</title>
                </line>
              ))}
            </g>
          );
        })}
      </svg>
      <figcaption>
        Median of {medianBeat.n_beats} beats of the dominant class ({medianBeat.beat_class}) over one median RR
        ({Math.round(medianBeat.rr_ms)} ms), {SPEED_MM_S} mm/s, {GAIN_MM_MV} mm/mV; dashed: P onset, QRS onset and
        end, T end as measured.
      </figcaption>
    </figure>
  );
}
