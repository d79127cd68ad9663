/**
 * @file Adapter folders from anyone: patterns that cannot hang, configs that cannot block or flood the
 * reader, links refused on load and save, malformed configs named with a position, unknown fields refused
 * alike, numbers in range, and a save pair that survives kill -9 (the folder loads as the old adapter or the new).
 */

import { execFileSync, spawn } from "node:child_process";
import { mkdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { memory, TsgradError, tensor } from "@tsgrad/core";
import { assertRejects, checkProperty, fuzzSize, jsonMutationArb, mutateJson, printed } from "@tsgrad/core/testing/node";
import { saveTensors } from "@tsgrad/nn/node";
import fc from "fast-check";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { getPeftModel, type LoraConfig, LoraLinear, loadAdapter, MAX_CONFIG_BYTES } from "../src/node.ts";
import { tinyEncoder } from "./support/models.ts";
import { withTempDir } from "./support/tmp.ts";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const LOOP = fileURLToPath(new URL("./fixtures/save-adapter-loop.ts", import.meta.url));

async function saved(dir: string): Promise<Record<string, unknown>> {
  await getPeftModel(tinyEncoder(), { method: "lora", r: 2, initLoraWeights: false }).saveAdapter(dir);
  return JSON.parse(await readFile(join(dir, "adapter_config.json"), "utf8"));
}

test("a catastrophic pattern in target_modules is matched in linear time; an invalid one names the file and field", async () => {
  await withTempDir(async (dir) => {
    const config = await saved(dir);
    // RegExp takes ~48 s on one block with this; RE2 answers at once (no module matches, so it is refused)
    await writeFile(join(dir, "adapter_config.json"), JSON.stringify({ ...config, target_modules: "((.+)+)+z" }));
    const started = performance.now();
    await assertRejects(loadAdapter(tinyEncoder(), dir), /targetModules \/\(\(\.\+\)\+\)\+z\/ .*matched no module/);
    assert.ok(performance.now() - started < 2000, `took ${performance.now() - started} ms`);
    await writeFile(join(dir, "adapter_config.json"), JSON.stringify({ ...config, target_modules: "[" }));
    await assertRejects(
      loadAdapter(tinyEncoder(), dir),
      /loadAdapter .*adapter_config\.json: target_modules "\[" is not a pattern tsgrad accepts \(RE2 syntax.*missing closing \]/,
    );
    await writeFile(join(dir, "adapter_config.json"), JSON.stringify({ ...config, target_modules: ["q"], exclude_modules: "(?=q)" }));
    await assertRejects(loadAdapter(tinyEncoder(), dir), /exclude_modules "\(\?=q\)" is not a pattern tsgrad accepts/);
    // a pattern that RE2 reads matches the whole path, as PEFT's re.fullmatch
    await writeFile(join(dir, "adapter_config.json"), JSON.stringify({ ...config, target_modules: ".*\\.(q|v)" }));
    const loaded = await loadAdapter(tinyEncoder(), dir);
    assert.ok(loaded.model.blocks.at(1).getSubmodule("attn.v") instanceof LoraLinear);
    assert.ok(!(loaded.model.blocks.at(1).getSubmodule("attn.k") instanceof LoraLinear));
  });
});

test("a RegExp in code is compiled with RE2 too, so what is saved loads back", () => {
  assert.throws(
    () => getPeftModel(tinyEncoder(), { method: "lora", targetModules: /(?<=attn\.)q/ }),
    /targetModules .* is not a pattern tsgrad accepts/,
  );
  const peft = getPeftModel(tinyEncoder(), { method: "lora", targetModules: /blocks\.0\.attn\.(q|v)/ });
  assert.is(peft.peftConfig.get("default")?.targetModules.toString(), "/blocks\\.0\\.attn\\.(q|v)/");
});

test("a config that is a FIFO, a link to /dev/zero or too large is refused at once, by name", async () => {
  await withTempDir(async (dir) => {
    await saved(dir);
    const configPath = join(dir, "adapter_config.json");
    await rm(configPath);
    execFileSync("mkfifo", [configPath]);
    await assertRejects(loadAdapter(tinyEncoder(), dir), /adapter_config\.json is a FIFO; expected a regular file/);
    await rm(configPath);
    await symlink("/dev/zero", configPath);
    await assertRejects(loadAdapter(tinyEncoder(), dir), /adapter_config\.json is a symbolic link/);
    await rm(configPath);
    await writeFile(configPath, " ".repeat(MAX_CONFIG_BYTES + 1));
    await assertRejects(
      loadAdapter(tinyEncoder(), dir),
      new RegExp(`has ${MAX_CONFIG_BYTES + 1} bytes; the most accepted is ${MAX_CONFIG_BYTES}`),
    );
  });
});

test("a symlinked weights file is not read, and a link planted at dir/<name> does not make saveAdapter write outside", async () => {
  await withTempDir(async (dir) => {
    const inside = join(dir, "a");
    const outside = join(dir, "outside");
    await mkdir(outside);
    await saved(inside);
    await saved(outside);
    await rm(join(inside, "adapter_model.safetensors"));
    await symlink(join(outside, "adapter_model.safetensors"), join(inside, "adapter_model.safetensors"));
    await assertRejects(loadAdapter(tinyEncoder(), inside), /adapter_model\.safetensors is a symbolic link/);
    // a link to a file of another size is refused as a link too, before anything follows it (its
    // target's size would otherwise show in the message)
    await rm(join(inside, "adapter_model.safetensors"));
    await symlink("/etc/passwd", join(inside, "adapter_model.safetensors"));
    try {
      await loadAdapter(tinyEncoder(), inside);
      assert.unreachable("a linked weights file loaded");
    } catch (error) {
      assert.match((error as Error).message, /adapter_model\.safetensors is a symbolic link/);
      assert.not.match((error as Error).message, /bytes|not the file/);
    }

    const peft = getPeftModel(tinyEncoder(), { method: "lora", r: 2 });
    peft.addAdapter("second", { method: "lora", r: 2 });
    const target = join(dir, "b");
    await mkdir(target);
    await symlink(outside, join(target, "second"));
    const before = await readFile(join(outside, "adapter_config.json"), "utf8");
    await assertRejects(peft.saveAdapter(target), /saveAdapter: .*second is a symbolic link/);
    assert.is(await readFile(join(outside, "adapter_config.json"), "utf8"), before);
  });
});

test("the folder the caller names may be a link; a save that dies over a PEFT-written folder leaves that adapter loadable", async () => {
  await withTempDir(async (dir) => {
    const real = join(dir, "run-7");
    await mkdir(real);
    await symlink(real, join(dir, "latest"));
    await saved(join(dir, "latest"));
    assert.ok((await readFile(join(real, "adapter_config.json"), "utf8")).includes("tsgrad_weights"));
    // a PEFT-written config (no record) next to its weights: the new weights are staged beside them and
    // nothing of the old pair is touched before the new config commits
    const peftFolder = join(dir, "peft");
    await saved(peftFolder);
    const { tsgrad_weights: _, ...peftConfig } = JSON.parse(await readFile(join(peftFolder, "adapter_config.json"), "utf8"));
    await writeFile(join(peftFolder, "adapter_config.json"), JSON.stringify(peftConfig));
    // a save that dies while writing the weights (as a kill would): the PEFT adapter is still whole
    const failing = getPeftModel(tinyEncoder(), { method: "lora", r: 2 });
    const [first] = failing.adapterStateDict().values();
    (first as unknown as { data: () => Promise<never> }).data = async () => {
      throw new Error("killed");
    };
    await assertRejects(failing.saveAdapter(peftFolder), /killed/);
    const before = await loadAdapter(tinyEncoder(), peftFolder);
    assert.is((before.peftConfig.get("default") as LoraConfig).r, 2);
    before.dispose();
    const peft = getPeftModel(tinyEncoder(), { method: "lora", r: 2 });
    await peft.saveAdapter(peftFolder);
    assert.ok((await readFile(join(peftFolder, "adapter_config.json"), "utf8")).includes("tsgrad_weights"));
    // exportAsLora is for PEFT: its config carries no record
    await peft.exportAsLora(join(dir, "export"));
    assert.not.ok((await readFile(join(dir, "export", "adapter_config.json"), "utf8")).includes("tsgrad_weights"));
  });
});

test("a config cannot make tsgrad allocate far more than the model: HyRA's width is bounded by the layer", async () => {
  await withTempDir(async (dir) => {
    await getPeftModel(tinyEncoder(), { method: "hyra", r: 2 }).saveAdapter(dir);
    const config = JSON.parse(await readFile(join(dir, "adapter_config.json"), "utf8"));
    await writeFile(
      join(dir, "adapter_config.json"),
      JSON.stringify({ ...config, hyra_hidden_width: 65536, hyra_per_head_generator: true }),
    );
    const before = memory().numBytes;
    await assertRejects(loadAdapter(tinyEncoder(), dir), /hiddenWidth = 65536 is more than 16 × the width 16 of "blocks\.0\.attn\.q"/);
    assert.ok(memory().numBytes - before < 1 << 20, "nothing large was allocated");
  });
});

test("malformed configs are errors naming the file and the position, never a bare SyntaxError", async () => {
  await withTempDir(async (dir) => {
    const config = await saved(dir);
    const text = JSON.stringify(config, null, 2);
    const cases: [string, RegExp][] = [
      ["{ not json", /is not valid JSON at line 1, column 3/],
      [text.replace('"r": 2', '"r": 2,,'), /is not valid JSON at line \d+, column \d+/],
      [text.slice(0, text.length - 2), /is not valid JSON at line \d+, column \d+/],
      ["", /is not valid JSON at line 1, column 1/],
      [`${text}x`, /is not valid JSON at line \d+, column 2/],
      ["[".repeat(100_000), /nests arrays and objects 100000 levels deep; an adapter config has at most 16/],
      [`{"task_type": ${"[".repeat(5000)}${"]".repeat(5000)}}`, /nests arrays and objects 5001 levels deep/],
      ['{"r": "\\x"}', /is not valid JSON at line 1, column 8/],
    ];
    for (const [body, pattern] of cases) {
      await writeFile(join(dir, "adapter_config.json"), body);
      const error = await loadAdapter(tinyEncoder(), dir).then(
        () => null,
        (e: Error) => e,
      );
      assert.ok(error && error.name === "TsgradError", `${JSON.stringify(body.slice(0, 30))}: ${error?.name}: ${error?.message}`);
      assert.match(error.message, /loadAdapter .*adapter_config\.json: /);
      assert.match(error.message, pattern);
    }
    await writeFile(join(dir, "adapter_config.json"), new Uint8Array([0x7b, 0xff, 0x7d]));
    await assertRejects(loadAdapter(tinyEncoder(), dir), /adapter_config\.json: is not valid UTF-8 text/);
  });
});

test("unknown fields are refused alike, Object.prototype's names included; numbers are checked for range", async () => {
  await withTempDir(async (dir) => {
    const config = await saved(dir);
    for (const field of ["foo", "constructor", "toString", "__proto__", "hasOwnProperty"]) {
      const text = JSON.stringify(config).replace(/^\{/, `{${JSON.stringify(field)}: 1,`);
      await writeFile(join(dir, "adapter_config.json"), text);
      await assertRejects(
        loadAdapter(tinyEncoder(), dir),
        new RegExp(`unknown field ${field.replace(/_/g, "_")} = 1: it may change the computation`),
      );
    }
    for (const [field, value, pattern] of [
      ["lora_alpha", 1e308, /alpha must be a number in \(0, 1000000\], got 1e\+308/],
      ["r", 1e12, /r must be a positive integer up to 65536/],
      ["lora_dropout", -0.5, /dropout must be a number in \[0, 1\)/],
      ["layers_to_transform", [1e300], /layersToTransform must be a layer index/],
      ["tsgrad_weights", { bytes: -1, sha256: "x" }, /tsgrad_weights must be \{ "bytes": <size>, "sha256": <64 hex digits> \}/],
    ] as const) {
      await writeFile(join(dir, "adapter_config.json"), JSON.stringify({ ...config, [field]: value }));
      await assertRejects(loadAdapter(tinyEncoder(), dir), pattern);
    }
  });
});

test("an adapter name past 128 characters is refused up front, not by the file system", async () => {
  const long = "a".repeat(300);
  assert.throws(
    () => getPeftModel(tinyEncoder(), { method: "lora" }, long),
    /getPeftModel: an adapter name has at most 128 characters, got 300/,
  );
  const peft = getPeftModel(tinyEncoder(), { method: "lora" });
  assert.throws(() => peft.addAdapter(long, { method: "lora" }), /at most 128 characters/);
  await assertRejects(peft.loadAdapter("/nonexistent", long), /loadAdapter: an adapter name has at most 128 characters/);
});

test("weights saved without their config (an interrupted save) are refused, saying so", async () => {
  await withTempDir(async (dir) => {
    await saved(dir);
    const t = tensor([1]);
    await saveTensors({ "base_model.model.x": t }, join(dir, "adapter_model.safetensors"));
    t.dispose();
    await assertRejects(loadAdapter(tinyEncoder(), dir), /is not the file adapter_config\.json was saved with .*the save was interrupted/);
  });
});

const configMutationArb = jsonMutationArb(["qalora_group_size"]);

test("fuzz: mutated adapter configs load or fail with a TsgradError naming the file, quickly", async () => {
  await withTempDir(async (dir) => {
    await saved(dir);
    const valid = await readFile(join(dir, "adapter_config.json"), "utf8");
    const outcomes = new Map<string, number>();
    await checkProperty(
      "adapter_config.json fuzz",
      fc.array(configMutationArb, { minLength: 1, maxLength: 3 }),
      async (mutations) => {
        const text = mutations.reduce(mutateJson, valid);
        await writeFile(join(dir, "adapter_config.json"), text);
        const started = performance.now();
        let outcome = "loaded";
        try {
          const peft = await loadAdapter(tinyEncoder(), dir);
          peft.model.dispose();
        } catch (error) {
          if (!(error instanceof TsgradError))
            throw new Error(`a ${(error as Error).name} escaped for ${JSON.stringify(text.slice(0, 200))}: ${(error as Error).message}`);
          assert.match(error.message, /adapter_config\.json|loadAdapter/);
          outcome = error.message.replace(/^[^:]*: /, "").slice(0, 40);
        }
        const ms = performance.now() - started;
        assert.ok(ms < 2000, `a load took ${ms.toFixed(0)} ms for ${JSON.stringify(text.slice(0, 200))}`);
        outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      },
      { numRuns: fuzzSize(150, 1500) },
    );
    assert.ok((outcomes.get("loaded") ?? 0) > 0, "some mutants are still valid configs");
  });
});

test("saveAdapter killed with SIGKILL at random moments: after every kill the folder loads as a whole old or new adapter", async () => {
  const kills = fuzzSize(40, 200);
  const started = performance.now();
  const seen = new Set<number>();
  await withTempDir(async (dir) => {
    for (let i = 0; i < kills; i++) {
      const child = spawn(process.execPath, ["--import", "tsx", LOOP, dir], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
      const exited = new Promise((resolve) => child.on("exit", resolve));
      try {
        await printed(child, "saved 0\n");
        // saves take a few milliseconds each (two fsyncs): land anywhere in one
        await new Promise((resolve) => setTimeout(resolve, 5 + ((i * 7919) % 40)));
      } finally {
        child.kill("SIGKILL");
        await exited;
      }
      const peft = await loadAdapter(tinyEncoder(), dir);
      const alpha = (peft.peftConfig.get("default") as LoraConfig).alpha;
      for (const [key, p] of peft.adapterStateDict()) {
        const values = await p.data();
        assert.ok(
          values.every((v) => v === alpha - 1),
          `a mixed pair loaded: ${key} holds ${values[0]} with lora_alpha ${alpha}`,
        );
      }
      seen.add(alpha - 1);
      peft.dispose();
    }
  });
  const seconds = (performance.now() - started) / 1000;
  console.log(`kill test: ${kills} kills in ${seconds.toFixed(1)} s, every one a whole adapter (${seen.size} different saves)`);
  assert.ok(seen.size > 1, "the kills landed in more than one save");
});

test.run();
