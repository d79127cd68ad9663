import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fail } from "@tsgrad/core";
import { PRETRAINING_CORPORA, type PretrainingCorpus, pretrainingText } from "@tsgrad/datasets";
import { writeJsonFile } from "@tsgrad/models/node";
import { PRETRAIN_DEFAULTS, type PretrainSettings, pretrain } from "@tsgrad/training/node";
import { integer, positive, startBackend } from "../args.ts";
import { defineCommand } from "../command.ts";

const d = PRETRAIN_DEFAULTS;

export const pretrainCommand = defineCommand({
  name: "pretrain",
  usage: "pretrain [options]",
  summary: "pretrain the backbone GPT (BPE tokenizer, then language modelling) and save it",
  about: `Trains a byte-level BPE on the corpus, then the GPT; prints held-out bits per character against a
unigram character model (the floor: at least 1.5 below it) and saves the model, tokenizer and
pretrain.json (settings, result, the command, file hashes) into OUT.`,
  options: {
    corpus: {
      value: "NAME",
      help: `${PRETRAINING_CORPORA.join(", ")}; sotu adds the SOTU task's training-pool speeches, never its test speeches`,
      default: d.corpus,
    },
    merges: { value: "N", help: "BPE merges", default: String(d.merges) },
    layers: { value: "N", help: "the GPT's blocks", default: String(d.nLayer) },
    heads: { value: "N", help: "attention heads", default: String(d.nHead) },
    width: { value: "N", help: "embedding width", default: String(d.nEmbd) },
    block: { value: "N", help: "context length in tokens", default: String(d.blockSize) },
    batch: { value: "N", help: "windows per step", default: String(d.batch) },
    steps: { value: "N", help: "training steps", default: String(d.steps) },
    lr: { value: "X", help: "peak learning rate", default: String(d.lr) },
    out: { value: "DIR", help: "where the backbone goes", default: join("results", "backbone") },
    yes: { help: "run even when the estimate passes five minutes" },
  },
  async run(v, argv) {
    await startBackend(v);
    if (!PRETRAINING_CORPORA.includes(v.corpus as PretrainingCorpus))
      fail("tsgrad", `--corpus must be one of ${PRETRAINING_CORPORA.join(", ")}, got ${JSON.stringify(v.corpus)}`);
    const settings: PretrainSettings = {
      corpus: v.corpus,
      merges: integer("merges", v.merges, undefined, 0),
      nLayer: integer("layers", v.layers),
      nHead: integer("heads", v.heads),
      nEmbd: integer("width", v.width),
      blockSize: integer("block", v.block),
      batch: integer("batch", v.batch),
      steps: integer("steps", v.steps),
      lr: positive("lr", v.lr),
      seed: integer("seed", v.seed, undefined, 0),
    };
    // about 0.2 s a step of 2,048 tokens at width 64, 2 layers and 1,280 tokens in the vocabulary on this
    // machine class; the output layer's share grows with the vocabulary (0.27 s at 4,352)
    const vocab = (settings.merges + 256) / 1280;
    const estimate =
      settings.steps *
      0.2 *
      ((settings.batch * settings.blockSize) / 2048) *
      ((settings.nEmbd * settings.nLayer) / 128) *
      (0.85 + 0.15 * vocab);
    console.error(`pretraining ${settings.steps} steps, about ${Math.round(estimate)} s`);
    if (estimate > 300 && !v.yes) fail("tsgrad", `pretraining would take about ${Math.round(estimate)} s; add --yes to run it`);
    const out = v.out;
    const result = await pretrain(settings, pretrainingText(v.corpus as PretrainingCorpus), out);
    const floor = result.unigramBitsPerChar - 1.5;
    const hashes: Record<string, string> = {};
    for (const f of ["config.json", "model.safetensors", "tokenizer.json"])
      hashes[f] = createHash("sha256")
        .update(await readFile(join(out, f)))
        .digest("hex");
    const record = { command: `npm run tsgrad -- pretrain ${argv.filter((a) => a !== "--yes").join(" ")}`.trim(), result, files: hashes };
    await writeJsonFile(join(out, "pretrain.json"), record, "tsgrad pretrain");
    console.log(
      `held-out bits per character ${result.bitsPerChar.toFixed(3)}; unigram character model ${result.unigramBitsPerChar.toFixed(3)}; ` +
        `floor ${floor.toFixed(3)}: ${result.bitsPerChar <= floor ? "met" : "NOT met"} (${result.parameters} parameters, ${result.seconds.toFixed(0)} s)`,
    );
    console.log(`saved to ${out}`);
  },
});
