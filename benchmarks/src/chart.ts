/**
 * @file The SVG chart of a report, written by hand so that the same report always gives the same bytes.
 *
 * Cases have different units, so each case's bars show speed relative to the slowest participant in that
 * case, on a log axis shared by all cases: longer is faster, and the label at the end of a bar is its
 * median time per call.
 */

import type { Report } from "./report.ts";
import { fmtMs } from "./report.ts";

const TSGRAD_COLORS = ["#1f5fa8", "#2e9e5b", "#15a3b8", "#7b4fb0"];
const PEER_COLORS = ["#e07b10", "#c9382f", "#8c5a3c", "#6f6f6f"];

const WIDTH = 960;
const LEFT = 250;
const RIGHT = 90;
const BAR = 11;
const GAP = 3;
const GROUP_GAP = 14;
const STUB = 4;

const xml = (s: string) => s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll('"', "&quot;");

export function svgChart(report: Report): string {
  const ran = report.participants.filter((p) => p.status === "ran");
  const tsgrad = ran.filter((p) => p.kind === "tsgrad");
  const peers = ran.filter((p) => p.kind === "peer");
  const color = new Map([
    ...tsgrad.map((p, i) => [p.id, TSGRAD_COLORS[i % TSGRAD_COLORS.length]] as const),
    ...peers.map((p, i) => [p.id, PEER_COLORS[i % PEER_COLORS.length]] as const),
  ]);
  const order = [...tsgrad, ...peers];

  // speed relative to the slowest participant of each case
  const groups = report.cases.map((spec) => {
    const summaries = order.map((p) => report.summaries.find((s) => s.participant === p.id && s.case === spec.id));
    const slowest = Math.max(...summaries.filter((s) => s?.ok).map((s) => s!.medianMs));
    return { spec, bars: summaries.map((s, i) => ({ participant: order[i], summary: s, speed: s?.ok ? slowest / s.medianMs : 0 })) };
  });
  const maxSpeed = Math.max(10, ...groups.flatMap((g) => g.bars.map((b) => b.speed)));
  const decades = Math.ceil(Math.log10(maxSpeed) - 1e-9);
  const plot = WIDTH - LEFT - RIGHT;
  const x = (speed: number) => LEFT + STUB + (Math.log10(speed) / decades) * (plot - STUB);

  const legendRows = Math.ceil(order.length / 4);
  const top = 64 + legendRows * 18;
  const groupHeight = order.length * (BAR + GAP) + GROUP_GAP;
  const height = top + groups.length * groupHeight + 30;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    `<text x="${LEFT}" y="22" font-size="14" font-weight="bold">${xml(`tsgrad benchmarks (${report.mode}), ${report.machine.cpu}, ${report.machine.cores} cores`)}</text>`,
    `<text x="${LEFT}" y="40" fill="#444">Speed relative to the slowest participant of each case (log scale; longer is faster). Labels: median time per call.</text>`,
  ];
  order.forEach((p, i) => {
    const lx = LEFT + (i % 4) * 165;
    const ly = 56 + Math.floor(i / 4) * 18;
    out.push(`<rect x="${lx}" y="${ly - 9}" width="10" height="10" fill="${color.get(p.id)}"/>`);
    out.push(`<text x="${lx + 14}" y="${ly}">${xml(p.label)}</text>`);
  });
  for (let d = 0; d <= decades; d++) {
    const gx = x(10 ** d).toFixed(1);
    out.push(`<line x1="${gx}" y1="${top - 6}" x2="${gx}" y2="${height - 24}" stroke="#dddddd"/>`);
    out.push(`<text x="${gx}" y="${height - 10}" text-anchor="middle" fill="#444">${10 ** d}×</text>`);
  }
  groups.forEach((group, g) => {
    const gy = top + g * groupHeight;
    out.push(`<text x="${LEFT - 8}" y="${gy + (order.length * (BAR + GAP)) / 2 + 3}" text-anchor="end">${xml(group.spec.id)}</text>`);
    group.bars.forEach((bar, i) => {
      const y = gy + i * (BAR + GAP);
      if (!bar.summary) return;
      if (!bar.summary.ok) {
        out.push(`<text x="${LEFT + STUB}" y="${y + BAR - 2}" font-weight="bold">error (see the report)</text>`);
        return;
      }
      const end = x(bar.speed);
      out.push(
        `<rect class="bar" x="${LEFT}" y="${y}" width="${(end - LEFT).toFixed(1)}" height="${BAR}" fill="${color.get(bar.participant.id)}"/>`,
      );
      out.push(`<text x="${(end + 4).toFixed(1)}" y="${y + BAR - 2}" fill="#333">${xml(fmtMs(bar.summary.medianMs))}</text>`);
    });
  });
  out.push("</svg>");
  return `${out.join("\n")}\n`;
}
