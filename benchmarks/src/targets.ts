/**
 * @file The fast CPU backend's targets (the floors and stretch targets of its issue), checked against a
 * report's own numbers: the wasm backend's three participants side by side with tfjs-wasm and jax-js. A
 * target whose cases or participants are missing from the run is left out, never guessed.
 */

import type { Report } from "./report.ts";

interface Target {
  target: string;
  measured: string;
  met: boolean;
}

export function targetRows(report: Report): { floors: Target[]; stretch: Target[] } {
  const summary = (p: string, c: string) => report.summaries.find((s) => s.participant === p && s.case === c && s.ok);
  const ratio = (p: string, peer: string, c: string) =>
    report.ratios.find((r) => r.tsgrad === p && r.peer === peer && r.case === c)?.median;
  const floors: Target[] = [];
  const stretch: Target[] = [];
  const add = (list: Target[], target: string, measured: () => [string, boolean] | null) => {
    const m = measured();
    if (m) list.push({ target, measured: m[0], met: m[1] });
  };
  const f1 = (v: number) => v.toFixed(1);
  const f2 = (v: number) => v.toFixed(2);
  const speedup = (p: string, c: string): [string, number] | null => {
    const r = ratio(p, "tfjs-wasm", c);
    const [a, b] = [summary(p, c), summary("tfjs-wasm", c)];
    return r && a && b ? [`${f1(a.metric)} vs ${f1(b.metric)} GFLOP/s: ${f2(1 / r)}×`, 1 / r] : null;
  };
  const m512 = "matmul 512³";
  add(floors, "matmul 512³, 2 threads, baseline SIMD: at least 2.3× tfjs-wasm's GFLOP/s", () => {
    const s = speedup("wasm:2t", m512);
    return s ? [s[0], s[1] >= 2.3] : null;
  });
  add(floors, "every matmul case, 2 threads, baseline SIMD: at least 1.5× tfjs-wasm", () => {
    const all = report.cases.filter((c) => c.group === "matmul").map((c) => [speedup("wasm:2t", c.id), c.id] as const);
    if (all.length === 0 || all.some(([s]) => !s)) return null;
    const [worst, id] = all.reduce((a, b) => (b[0]![1] < a[0]![1] ? b : a));
    return [`lowest ${f2(worst![1])}× (${id})`, worst![1] >= 1.5];
  });
  const stepAgainstJax = (p: string): [string, number] | null => {
    const [a, b, r] = [
      summary(p, "encoder train step"),
      summary("jax-wasm", "encoder train step"),
      ratio(p, "jax-wasm", "encoder train step"),
    ];
    return a && b && r ? [`${f1(a.medianMs)} vs ${f1(b.medianMs)} ms: ${f2(r)}× its time`, r] : null;
  };
  add(floors, "encoder train step (forward, backward, AdamW), 2 threads: at most 0.5× jax-js's time", () => {
    const s = stepAgainstJax("wasm:2t");
    return s ? [s[0], s[1] <= 0.5] : null;
  });
  for (const adapter of ["LoRA", "HyRA"]) {
    add(floors, `encoder step training ${adapter} on q and v, 2 threads: no slower than the full step`, () => {
      const [a, full] = [summary("wasm:2t", `encoder train step, ${adapter} q,v`), summary("wasm:2t", "encoder train step")];
      return a && full ? [`${f1(a.medianMs)} vs ${f1(full.medianMs)} ms`, a.medianMs <= full.medianMs] : null;
    });
  }
  for (const method of ["HyRA", "LoRA", "full"]) {
    add(floors, `the study's fine-tune step, ${method}, 2 threads: at most 40 ms`, () => {
      const s = summary("wasm:2t", `fine-tune step, ${method}`);
      return s ? [`${f1(s.medianMs)} ms`, s.medianMs <= 40] : null;
    });
  }
  for (const c of ["softmax [512,512]", "layerNorm [512,512]", "gelu 1M"]) {
    add(floors, `${c}, 2 threads: no slower than tfjs-wasm`, () => {
      const [a, b, r] = [summary("wasm:2t", c), summary("tfjs-wasm", c), ratio("wasm:2t", "tfjs-wasm", c)];
      return a && b && r ? [`${a.medianMs.toFixed(3)} vs ${b.medianMs.toFixed(3)} ms: ${f2(r)}× its time`, r <= 1] : null;
    });
  }
  const chain = report.cases.find((c) => c.group === "autodiff")?.id;
  const perOp = (p: string) => (chain ? summary(p, chain)?.metric : undefined);
  add(floors, "autodiff chain of tiny ops, every wasm configuration: at most 15 µs per op", () => {
    const values = ["wasm:1t", "wasm:2t", "wasm:2t-relaxed"].map(perOp);
    if (values.some((v) => v === undefined)) return null;
    return [`${values.map((v) => f1(v!)).join(", ")} µs (1 thread, 2, 2 relaxed)`, Math.max(...(values as number[])) <= 15];
  });
  add(stretch, "matmul 512³ with relaxed SIMD, 2 threads: 3.5× tfjs-wasm", () => {
    const s = speedup("wasm:2t-relaxed", m512);
    return s ? [s[0], s[1] >= 3.5] : null;
  });
  add(stretch, "encoder train step: 0.25× jax-js's time", () => {
    const s = stepAgainstJax("wasm:2t-relaxed");
    return s ? [`${s[0]} (relaxed)`, s[1] <= 0.25] : null;
  });
  add(stretch, "autodiff chain: 5 µs per tiny op", () => {
    const v = ["wasm:1t", "wasm:2t", "wasm:2t-relaxed"].map(perOp).filter((x): x is number => x !== undefined);
    return v.length ? [`best ${f1(Math.min(...v))} µs`, Math.min(...v) <= 5] : null;
  });
  return { floors, stretch };
}

/** The targets as Markdown tables, or "" when the run lacks what they compare. */
export function targetsMarkdown(report: Report): string {
  const { floors, stretch } = targetRows(report);
  if (floors.length === 0 && stretch.length === 0) return "";
  const rows = (list: Target[]) => list.map((t) => `| ${t.target} | ${t.measured} | ${t.met ? "met" : "**not met**"} |`).join("\n");
  const head = "| target | measured | |\n| --- | --- | --- |\n";
  return `### Floors\n\n${head}${rows(floors)}\n\n### Stretch targets\n\n${head}${rows(stretch)}`;
}
