import { fail } from "@tsgrad/core";
import { predict } from "@tsgrad/training";
import { startBackend } from "../args.ts";
import { defineCommand } from "../command.ts";
import { GPT_BACKBONE_DIR } from "../paths.ts";
import { loadRun } from "../saved-run.ts";

/** Texts to classify from standard input: at most this many bytes (a bigger input is refused, not cut). */
const MAX_STDIN_BYTES = 16 << 20;

async function readStdin(maxBytes: number): Promise<string> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of process.stdin) {
    bytes += (chunk as Buffer).length;
    if (bytes > maxBytes) fail("tsgrad predict", `standard input has more than ${maxBytes} bytes, the most accepted; pass fewer texts`);
    chunks.push(chunk as Buffer);
  }
  return new TextDecoder("utf-8", { fatal: true }).decode(Buffer.concat(chunks));
}

export const predictCommand = defineCommand({
  name: "predict",
  usage: 'predict --run DIR [--text "..."]... [options]',
  summary: "classify texts with a saved run",
  about: "Prints each text's predicted label (texts from --text, or one per line on standard input).",
  options: {
    run: { value: "DIR", help: "the folder finetune --out wrote" },
    text: { value: "TEXT", help: "a text to classify", multiple: true },
    backbone: { value: "DIR", help: "the pretrained backbone", defaultNote: "default pretrained/gpt-text" },
  },
  async run(v) {
    if (v.run === undefined) fail("tsgrad", "predict needs --run DIR (a folder finetune --out wrote)");
    await startBackend(v);
    const { model, run, tokenize } = await loadRun(v.run, v.backbone ?? GPT_BACKBONE_DIR);
    const texts = v.text ?? (await readStdin(MAX_STDIN_BYTES)).split("\n").filter((l) => l.trim() !== "");
    const predicted = await predict(model, texts.map(tokenize));
    for (const [i, t] of texts.entries()) console.log(`${run.labels[predicted[i]]}\t${t}`);
  },
});
