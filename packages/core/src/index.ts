/**
 * @file @tsgrad/core: tensors, reverse-mode autodiff, the ops and their gradients, and the backends.
 * Test helpers (gradcheck, fast-check arbitraries, tolerances) live in `@tsgrad/core/testing`.
 */

import { registerBackend } from "./backend/backend.ts";
import { installDefaultBackend } from "./backend/default.ts";
import { ReferenceBackend } from "./backend/reference/reference-backend.ts";
import { createWasmBackend } from "./backend/wasm/index.ts";
import { fail } from "./errors.ts";
// installs x.add(y) and every other op method on Tensor
import "./tensor-methods.ts";

export {
  checkFunction,
  checkNumberList,
  checkOptionalTensor,
  checkOptions,
  checkTensor,
  checkTensorList,
  closestName,
} from "./args.ts";
export { type BackwardOptions, backward, type GradOptions, grad, sumToShape } from "./autograd.ts";
export {
  type Backend,
  backendsApart,
  closeBackends,
  findBackend,
  getBackend,
  type MemoryInfo,
  type Operand,
  registerBackend,
  registeredBackends,
  type Storage,
  setBackend,
  useBackend,
} from "./backend/backend.ts";
export { ready } from "./backend/default.ts";
export { ReferenceBackend, type ReferenceOptions } from "./backend/reference/reference-backend.ts";
export { WasmBackend, type WasmOptions } from "./backend/wasm/index.ts";
export { softplus } from "./composite/activation.ts";
export { dropout } from "./composite/dropout.ts";
export {
  binaryCrossEntropyWithLogits,
  type CrossEntropyOptions,
  crossEntropy,
  mse,
  type Reduction,
} from "./composite/loss.ts";
export { type DType, type FloatDType, isFloat, promoteTypes, type TypedArray } from "./dtype.ts";
export { describeValue, fail, fmtShape, kindOf, showValue, TsgradError } from "./errors.ts";
export {
  arange,
  eye,
  full,
  fullLike,
  linspace,
  multinomial,
  type NestedData,
  normal,
  ones,
  onesLike,
  type RandomOptions,
  rand,
  randint,
  randn,
  scalar,
  type TensorOptions,
  tensor,
  uniform,
  zeros,
  zerosLike,
} from "./factories.ts";
export { valueAndGrad } from "./functional.ts";
export { enableGrad, isGradEnabled, noGrad } from "./grad-mode.ts";
export { assign, to } from "./inplace.ts";
export { dispose, type MemoryReport, memory, tidy } from "./memory.ts";
export { cast, type TensorLike } from "./ops/cast.ts";
export {
  abs,
  add,
  clamp,
  div,
  eq,
  erf,
  exp,
  ge,
  gt,
  le,
  log,
  log1p,
  logicalAnd,
  logicalNot,
  logicalOr,
  lt,
  maskedFill,
  maximum,
  minimum,
  mul,
  ne,
  neg,
  pow,
  reciprocal,
  relu,
  rsqrt,
  sigmoid,
  sign,
  sqrt,
  square,
  sub,
  tanh,
  where,
} from "./ops/elementwise.ts";
export { gelu, layerNorm, logSoftmax, softmax } from "./ops/fused.ts";
export { checkIndexRange, embedding, gather, indexSelect, scatterAdd, topk } from "./ops/indexing.ts";
export { linear, type MatmulOptions, matmul } from "./ops/matmul.ts";
export {
  broadcastTo,
  chunk,
  concat,
  expand,
  flatten,
  narrow,
  pad,
  permute,
  reshape,
  slice,
  split,
  squeeze,
  stack,
  transpose,
  tril,
  triu,
  unsqueeze,
} from "./ops/movement.ts";
export { type Axes, argmax, argmin, logSumExp, max, mean, min, std, sum, variance } from "./ops/reduce.ts";
export {
  apply,
  type BackwardRule,
  defineOp,
  type GradContext,
  NOT_DIFFERENTIABLE,
  type OpDef,
  registeredOps,
} from "./ops/registry.ts";
export { type AdamWUpdateOptions, adamwUpdate } from "./optimizer-updates.ts";
export { defaultGenerator, Generator, type GeneratorState, manualSeed } from "./random.ts";
export { broadcastShapes, broadcastsTo, checkSize, MAX_TENSOR_BYTES, type Shape, sizeOf } from "./shape.ts";
export { type GradNode, type NestedArray, Tensor } from "./tensor.ts";

registerBackend("reference", (options) => new ReferenceBackend({ strictAsync: Boolean(options.strictAsync) }));
registerBackend("wasm", (options) => createWasmBackend(options));

// gpu.js and Dawn load only when a gpujs backend is asked for; both are optional peers of the package
async function loadGpujs(): Promise<typeof import("./backend/gpujs/index.ts")> {
  try {
    return await import("./backend/gpujs/index.ts");
  } catch (error) {
    if ((error as { code?: string }).code === "ERR_MODULE_NOT_FOUND" && /gpu\.js/.test((error as Error).message)) {
      fail(
        "setBackend",
        "the gpujs backends need gpu.js, an optional peer dependency of @tsgrad/core: npm install gpu.js@2.24.1 (and webgpu@0.3.10 for WebGPU in Node)",
      );
    }
    throw error;
  }
}
const GPUJS_FALLBACKS = "wasm, reference, gpujs:webasm, gpujs:cpu";
registerBackend("gpujs", async (options) => (await loadGpujs()).createGpujsBackend(options, GPUJS_FALLBACKS));
for (const mode of ["webgpu", "webasm", "cpu"]) {
  registerBackend(`gpujs:${mode}`, async (options) => (await loadGpujs()).createGpujsBackend({ ...options, mode }, GPUJS_FALLBACKS));
}

// auto without gpu.js installed (an optional peer) has no GPU to take: the wasm backend
installDefaultBackend(async () => {
  try {
    const report = await (await loadGpujs()).probeWebGPU();
    return report.available && !report.software;
  } catch {
    return false;
  }
});
