/**
 * @file Dropout and rsLoRA act alike in all three methods, as PEFT's lora_dropout and use_rslora: while
 * training, dropout zeroes features of the adapter's input (and scales the kept ones by 1/(1 - p)), never
 * the base path and never in eval; rsLoRA makes the scale alpha/√r instead of alpha/r, in ΔW and in the
 * forward alike.
 */

import { manualSeed, noGrad, ones, randn, type Tensor } from "@tsgrad/core";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { type AdapterLayer, getPeftModel, type PeftConfigInput, type PeftModel } from "../src/index.ts";
import { fromFlat, type Matrix, matmul, maxAbsDiff, scale, transpose } from "./support/host.ts";
import { Attn } from "./support/models.ts";

const METHODS = ["lora", "mh-lora", "hyra"] as const;

function adapted(method: (typeof METHODS)[number], d: number, heads: number, options: Record<string, unknown>): PeftModel<Attn> {
  return getPeftModel(new Attn(d, heads), { method, initLoraWeights: false, ...options } as PeftConfigInput);
}

async function matrix(t: Tensor): Promise<Matrix> {
  return fromFlat(await t.data(), t.shape[0], t.shape[1]);
}

/** The projection's output on x (N, in) with and without its adapter, under noGrad. */
async function outputs(peft: PeftModel<Attn>, layer: AdapterLayer, x: Tensor): Promise<{ adapted: Matrix; base: Matrix }> {
  const adaptedOut = await matrix(noGrad(() => layer.forward(x)));
  const base = await matrix(peft.disableAdapters(() => noGrad(() => layer.forward(x))));
  return { adapted: adaptedOut, base };
}

for (const method of METHODS) {
  test(`${method}: dropout zeroes input features of the adapter path while training; the base path and eval are untouched`, async () => {
    manualSeed(1);
    // d = 2, two heads of one feature, r = 1: each row's adapter term s·ΔW·(2·mask) shows its mask
    const peft = adapted(method, 2, 2, { r: 1, alpha: 1, dropout: 0.5 });
    const x = ones([400, 2], { dtype: "float64" });
    for (const p of ["q", "v"]) {
      const layer = peft.model.attn.getSubmodule(p) as AdapterLayer;
      const delta = await matrix(noGrad(() => layer.deltaWeight("default"))); // s·ΔW (2, 2)
      const masks = [
        [0, 0],
        [1, 0],
        [0, 1],
        [1, 1],
      ];
      // what each mask gives: s·ΔW·(mask / (1 - p)) with p = 1/2
      const terms = masks.map((mask) =>
        matmul(
          delta,
          mask.map((v) => [2 * v]),
        ).map((row) => row[0]),
      );
      peft.train();
      const training = await outputs(peft, layer, x);
      const seen = new Set<number>();
      training.adapted.forEach((row, i) => {
        const term = row.map((v, j) => v - training.base[i][j]);
        const matches = terms.map((t, k) => (t.every((v, j) => Math.abs(v - term[j]) < 1e-12) ? k : -1)).filter((k) => k >= 0);
        assert.is(matches.length, 1, `${p}: row ${i}'s adapter term ${term} is no single mask's`);
        seen.add(matches[0]);
      });
      assert.is(seen.size, 4, `${p}: every mask occurs in 400 rows`);
      peft.eval();
      const evaluated = await outputs(peft, layer, x);
      const expected = evaluated.base.map((row) => row.map((v, j) => v + terms[3][j] / 2));
      assert.ok(maxAbsDiff(evaluated.adapted, expected) < 1e-12, `${p}: eval adds s·ΔW·x exactly`);
    }
  });

  test(`${method}: rsLoRA's scale is alpha/√r (alpha/r without), and ΔW and the forward both use it`, async () => {
    const [r, alpha] = [4, 3];
    for (const useRslora of [false, true]) {
      manualSeed(2);
      const peft = adapted(method, 8, 2, { r, alpha, useRslora });
      peft.eval();
      const x = randn([5, 8], { dtype: "float64" });
      for (const p of ["q", "v"]) {
        const layer = peft.model.attn.getSubmodule(p) as AdapterLayer;
        const { A, B, scaling } = noGrad(() => (layer as Required<AdapterLayer>).loraFactors("default"));
        assert.is(scaling, useRslora ? alpha / Math.sqrt(r) : alpha / r, `${p}: the scale`);
        const delta = await matrix(noGrad(() => layer.deltaWeight("default")));
        assert.ok(maxAbsDiff(delta, scale(matmul(await matrix(B), await matrix(A)), scaling)) < 1e-12, `${p}: ΔW = s·B·A`);
        const { adapted: y, base } = await outputs(peft, layer, x);
        const term = y.map((row, i) => row.map((v, j) => v - base[i][j]));
        assert.ok(maxAbsDiff(term, matmul(await matrix(x), transpose(delta))) < 1e-12, `${p}: the forward adds x·ΔWᵀ`);
      }
    }
  });
}

test.run();
