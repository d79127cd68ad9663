import { fail, manualSeed, tensor } from "@tsgrad/core";
import { loadPretrained } from "@tsgrad/models/node";
import { integer, startBackend } from "../args.ts";
import { defineCommand } from "../command.ts";
import { GPT_BACKBONE_DIR } from "../paths.ts";

export const generateCommand = defineCommand({
  name: "generate",
  usage: "generate [--prompt TEXT] [options]",
  summary: "sample text from the backbone",
  options: {
    prompt: { value: "TEXT", help: "the start", default: "The " },
    tokens: { value: "N", help: "new tokens", default: "100" },
    temperature: { value: "X", help: "0 is greedy", default: "0.8" },
    "top-k": { value: "K", help: "sample among the K most likely tokens", default: "40" },
    backbone: { value: "DIR", help: "the pretrained backbone", defaultNote: "default pretrained/gpt-text" },
  },
  async run(v) {
    await startBackend(v);
    manualSeed(integer("seed", v.seed, undefined, 0));
    const { model, tokenizer } = await loadPretrained(v.backbone ?? GPT_BACKBONE_DIR);
    model.eval();
    const prompt = tokenizer.encode(v.prompt);
    const temperature = Number(v.temperature);
    if (!(temperature >= 0)) fail("tsgrad", `--temperature must be a number >= 0, got ${JSON.stringify(v.temperature)}`);
    const out = await model.generate(tensor([prompt], [1, prompt.length], "int32"), integer("tokens", v.tokens), {
      temperature,
      topK: integer("top-k", v["top-k"]),
    });
    console.log(tokenizer.decode(((await out.array()) as number[][])[0]));
  },
});
