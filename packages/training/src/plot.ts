/**
 * @file The study's SVG plot: accuracy against training fraction (log axis), one line per method through
 * the mean over seeds, with a band from the lowest to the highest seed. Drawn by hand, as the benchmark's
 * chart is (chart.ts): the same numbers always give the same bytes, which the tests compare, and it needs
 * no dependency; docs/ARCHITECTURE.md says why the project keeps one hand-drawn SVG path.
 */

export interface PlotPoint {
  x: number;
  mean: number;
  low: number;
  high: number;
}

export interface PlotSeries {
  name: string;
  points: PlotPoint[];
}

const COLORS = ["#1f5fa8", "#e07b10", "#2e9e5b", "#c9382f", "#7b4fb0", "#8c5a3c", "#15a3b8", "#6f6f6f"];
const [W, H] = [720, 420];
const [LEFT, RIGHT, TOP, BOTTOM] = [64, 170, 40, 56];

const xml = (s: string) => s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll('"', "&quot;");
const num = (v: number) => (Math.round(v * 10) / 10).toString();

/**
 * Fractions in percent by default; `logY` plots errors on a log axis in whole decades, and `xUnit` names
 * the x ticks' unit ("%" unless given; "" for sample sizes).
 */
export function linePlot(options: {
  title: string;
  xLabel: string;
  yLabel: string;
  series: PlotSeries[];
  xTicks: number[];
  logY?: boolean;
  xUnit?: string;
}): string {
  const { title, xLabel, yLabel, series, xTicks, logY = false, xUnit = "%" } = options;
  const xs = series.flatMap((s) => s.points.map((p) => p.x)).concat(xTicks);
  const ys = series.flatMap((s) => s.points.flatMap((p) => [p.low, p.high]));
  if (logY && !ys.every((y) => y > 0)) throw new RangeError(`linePlot: a log axis needs values above 0 (${title})`);
  const ty = logY ? Math.log10 : (y: number) => y;
  const [x0, x1] = [Math.log(Math.min(...xs)), Math.log(Math.max(...xs))];
  let [y0, y1] = [Math.min(...ys.map(ty)), Math.max(...ys.map(ty))];
  if (logY) {
    // whole decades, never empty
    [y0, y1] = [Math.floor(y0), Math.max(Math.ceil(y1), Math.floor(y0) + 1)];
  } else {
    // a y range padded to whole percent, never empty
    if (!(y1 > y0)) [y0, y1] = [y0 - 0.05, y1 + 0.05];
    [y0, y1] = [Math.floor(y0 * 20) / 20, Math.ceil(y1 * 20) / 20];
    // accuracies keep the axis within 0-100 %; a difference of accuracies may go below 0
    if (ys.every((y) => y >= 0 && y <= 1)) [y0, y1] = [Math.max(0, y0), Math.min(1, y1)];
  }
  const px = (x: number) => LEFT + ((Math.log(x) - x0) / Math.max(x1 - x0, 1e-9)) * (W - LEFT - RIGHT);
  const py = (y: number) => H - BOTTOM - ((ty(y) - y0) / (y1 - y0)) * (H - TOP - BOTTOM);
  const yTicks = logY
    ? Array.from({ length: y1 - y0 + 1 }, (_, i) => ({ at: 10 ** (y0 + i), label: `1e${y0 + i}` }))
    : Array.from({ length: 5 }, (_, i) => y0 + ((y1 - y0) * i) / 4).map((y) => ({ at: y, label: `${(100 * y).toFixed(0)}%` }));
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<title>${xml(title)}</title>`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${LEFT}" y="22" font-size="14" font-weight="bold">${xml(title)}</text>`,
  ];
  for (const { at, label } of yTicks) {
    out.push(`<line x1="${LEFT}" x2="${W - RIGHT}" y1="${num(py(at))}" y2="${num(py(at))}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${LEFT - 6}" y="${num(py(at) + 4)}" text-anchor="end">${label}</text>`);
  }
  for (const x of xTicks) {
    out.push(`<line x1="${num(px(x))}" x2="${num(px(x))}" y1="${TOP}" y2="${H - BOTTOM}" stroke="#f0f0f0"/>`);
    out.push(`<text x="${num(px(x))}" y="${H - BOTTOM + 16}" text-anchor="middle">${x}${xUnit}</text>`);
  }
  out.push(`<text x="${(LEFT + W - RIGHT) / 2}" y="${H - 14}" text-anchor="middle">${xml(xLabel)}</text>`);
  out.push(`<text transform="translate(16 ${(TOP + H - BOTTOM) / 2}) rotate(-90)" text-anchor="middle">${xml(yLabel)}</text>`);
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    const pts = [...s.points].sort((a, b) => a.x - b.x);
    if (pts.length > 1) {
      const band = [
        ...pts.map((p) => `${num(px(p.x))},${num(py(p.high))}`),
        ...[...pts].reverse().map((p) => `${num(px(p.x))},${num(py(p.low))}`),
      ];
      out.push(`<polygon points="${band.join(" ")}" fill="${color}" fill-opacity="0.12"/>`);
      out.push(
        `<polyline points="${pts.map((p) => `${num(px(p.x))},${num(py(p.mean))}`).join(" ")}" fill="none" stroke="${color}" stroke-width="2"/>`,
      );
    }
    for (const p of pts) {
      out.push(`<line x1="${num(px(p.x))}" x2="${num(px(p.x))}" y1="${num(py(p.low))}" y2="${num(py(p.high))}" stroke="${color}"/>`);
      out.push(`<circle cx="${num(px(p.x))}" cy="${num(py(p.mean))}" r="3" fill="${color}"/>`);
    }
    const ly = TOP + 16 + 18 * i;
    out.push(`<line x1="${W - RIGHT + 14}" x2="${W - RIGHT + 34}" y1="${ly - 4}" y2="${ly - 4}" stroke="${color}" stroke-width="2"/>`);
    out.push(`<text x="${W - RIGHT + 40}" y="${ly}">${xml(s.name)}</text>`);
  });
  out.push("</svg>");
  return `${out.join("\n")}\n`;
}
