/**
 * @file Any adapter as a plain PEFT LoRA adapter (peft_type "LORA"): each adapted layer's ΔW written as
 * lora_A (rank, in) and lora_B (out, rank) with the same scale, plus its modulesToSave and biases, so
 * that PEFT itself can load what tsgrad trained. A method provides the factors (loraFactors); one that
 * cannot write its update so is refused by name.
 */

import { checkOptions, fail, noGrad, type Tensor, tidy } from "@tsgrad/core";
import type { Module } from "@tsgrad/nn";
import { checkFolder } from "./adapter-io.ts";
import type { AdapterLayer } from "./adapter-layer.ts";
import type { BaseTuner } from "./base-tuner.ts";
import { configToJson, type PeftConfig, resolveConfig } from "./config.ts";
import { adapterFolderIO } from "./save.ts";
import { adapterState, KEY_PREFIX } from "./state-dict.ts";

/** Writes adapter `adapterName` (the active one by default) into `dir` as a PEFT LoRA. */
export async function exportAsLora(tuner: BaseTuner<Module>, dir: string, options: { adapterName?: string }): Promise<void> {
  checkFolder("exportAsLora", dir);
  checkOptions("exportAsLora", options, ["adapterName"]);
  const name = options.adapterName ?? tuner.activeAdapter;
  tuner.checkAdapter(name, "exportAsLora");
  const config = tuner.configs.get(name) as PeftConfig;
  const layers = tuner.adapterLayers().filter((l) => l.hasAdapter(name));
  const lacking = layers.find((l) => l.loraFactors === undefined);
  if (lacking) fail("exportAsLora", `a ${lacking.constructor.name} ("${lacking.path}") cannot write its update as LoRA factors`);
  // copies, so the files hold exactly what the forward uses even if a cache entry is dropped meanwhile
  const factors = tidy(() =>
    noGrad(() =>
      layers.map((layer) => {
        const f = (layer as Required<AdapterLayer>).loraFactors(name);
        return { layer, A: f.A.clone(), B: f.B.clone(), scaling: f.scaling };
      }),
    ),
  );
  try {
    const ranks = new Set(factors.map((f) => f.A.shape[0]));
    const scalings = new Set(factors.map((f) => f.scaling));
    if (ranks.size !== 1 || scalings.size !== 1) {
      fail(
        "exportAsLora",
        `adapter "${name}" has ranks ${[...ranks].join(", ")} across its layers; PEFT LoRA needs one rank (rank_pattern is not written)`,
      );
    }
    const rank = factors[0].A.shape[0];
    const scaling = factors[0].scaling;
    const tensors = new Map<string, Tensor>();
    for (const { layer, A, B } of factors) {
      tensors.set(`${KEY_PREFIX}${layer.path}.lora_A.weight`, A);
      tensors.set(`${KEY_PREFIX}${layer.path}.lora_B.weight`, B);
    }
    const wrappers = tuner.wrappers();
    for (const [key, t] of adapterState(tuner, name)) {
      // modulesToSave copies and biases keep their keys; the method's own tensors are replaced by the factors
      if (key.endsWith(".bias") || wrappers.some((w) => key.startsWith(`${KEY_PREFIX}${w.path}.`))) tensors.set(key, t);
    }
    const lora = resolveConfig({
      method: "lora",
      r: rank,
      // alpha / r must be the scale s (rsLoRA's alpha / √r is folded in)
      alpha: scaling * rank,
      dropout: dropoutOf(config),
      targetModules: layers.map((l) => l.path),
      modulesToSave: config.modulesToSave,
      bias: config.bias,
      initLoraWeights: "initLoraWeights" in config ? config.initLoraWeights : true,
    });
    await adapterFolderIO("exportAsLora").write(dir, configToJson(lora), tensors, { where: "exportAsLora", record: false });
  } finally {
    for (const { A, B } of factors) {
      A.dispose();
      B.dispose();
    }
  }
}

/** The adapter's input dropout, whatever its method calls it (PEFT's lora_dropout, vera_dropout). */
function dropoutOf(config: PeftConfig): number {
  return "dropout" in config ? config.dropout : 0;
}
