// The README's "Use it in your project" program, from a CommonJS project: require() loads the ES modules
// (Node 20.19 and later), and the top-level awaits move into an async function.
const { manualSeed, mse, randn, tidy } = require("@tsgrad/core");
const { getPeftModel, loadAdapter } = require("@tsgrad/hyra/node");
const { AdamW, Linear, Sequential, TransformerBlock } = require("@tsgrad/nn");

async function main() {
  manualSeed(0);
  const [x, y] = [randn([8, 6, 32]), randn([8, 6, 2])];
  const peft = getPeftModel(new Sequential(new TransformerBlock(32, 4), new Linear(32, 2)), { method: "hyra", r: 4, alpha: 8 });
  const opt = new AdamW(peft.trainableParameters(), { lr: 1e-2 });
  const loss = () => mse(peft.forward(x), y);
  const before = tidy(() => loss().item());
  for (let step = 0; step < 10; step++) {
    tidy(() => {
      opt.zeroGrad();
      loss().backward();
      opt.step();
    });
  }
  const after = tidy(() => loss().item());
  await peft.saveAdapter("my-adapter");
  const trained = await peft.forward(x).data();
  const reloaded = await loadAdapter(peft.unload(), "my-adapter");
  const same = (await reloaded.forward(x).data()).every((v, i) => v === trained[i]);
  console.log(`loss ${before.toFixed(4)} -> ${after.toFixed(4)}; the reloaded adapter gives the same outputs: ${same}`);
}

main();
