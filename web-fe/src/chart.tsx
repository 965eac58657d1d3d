// A hand-written SVG line chart of total QPS over the last few minutes.
export function QpsChart({ points, height = 160 }: { points: { t: number; v: number }[]; height?: number }) {
  const width = 600;
  const pad = { l: 48, r: 8, t: 10, b: 22 };
  const now = points.length ? points[points.length - 1].t : Date.now();
  const span = 180_000;
  const t0 = now - span;
  const vmax = niceMax(Math.max(10, ...points.map((p) => p.v)));
  const x = (t: number) => pad.l + ((t - t0) / span) * (width - pad.l - pad.r);
  const y = (v: number) => pad.t + (1 - v / vmax) * (height - pad.t - pad.b);
  const visible = points.filter((p) => p.t >= t0);
  const line = visible.map((p) => `${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join(' ');
  const area = visible.length
    ? `${x(visible[0].t).toFixed(1)},${y(0)} ${line} ${x(visible[visible.length - 1].t).toFixed(1)},${y(0)}`
    : '';
  const last = visible.length ? visible[visible.length - 1].v : 0;
  const ticks = [0, vmax / 2, vmax];
  return (
    <figure class="chart">
      <svg
        viewBox={`0 0 ${width} ${height}`}
        preserveAspectRatio="none"
        role="img"
        aria-label={`Total QPS over the last 3 minutes, now ${Math.round(last)}`}
      >
        {ticks.map((v) => (
          <g key={v}>
            <line x1={pad.l} x2={width - pad.r} y1={y(v)} y2={y(v)} class="grid" />
            <text x={pad.l - 6} y={y(v) + 4} text-anchor="end" class="axis">
              {fmtAxis(v)}
            </text>
          </g>
        ))}
        <text x={pad.l} y={height - 6} class="axis">
          −3 min
        </text>
        <text x={width - pad.r} y={height - 6} text-anchor="end" class="axis">
          now
        </text>
        {area && <polygon points={area} class="area" />}
        {line && <polyline points={line} class="line" />}
      </svg>
    </figure>
  );
}

function niceMax(v: number): number {
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function fmtAxis(v: number): string {
  if (v >= 1e6) return `${(v / 1e6).toFixed(v % 1e6 ? 1 : 0)}M`;
  if (v >= 1e3) return `${(v / 1e3).toFixed(v % 1e3 ? 1 : 0)}k`;
  return String(Math.round(v));
}
