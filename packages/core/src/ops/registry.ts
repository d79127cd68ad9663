/**
 * @file The op registry: every primitive is one `defineOp` with its forward and its backward side by side.
 *
 * - `forward(backend, inputs, attrs)` runs kernels and returns the result's storage, shape and dtype. The
 *   exported op function in front of it validates arguments and throws errors that name the op, so
 *   forward can trust its inputs.
 * - `backward(ctx, dy)` returns one thunk per input giving that input's gradient (the vector-Jacobian
 *   product), or null where none flows. Thunks run only for inputs that need a gradient, so a frozen
 *   weight never costs a matmul. Rules are written with the same differentiable ops, so gradients of
 *   gradients work. A rule may return a gradient in the broadcast output shape: the engine, not the rule,
 *   sums it back to the input's shape and casts it to the input's dtype.
 * - An op without a gradient (comparisons, argmax) says so with NOT_DIFFERENTIABLE; `backward` is a
 *   required field, so a primitive with neither does not compile, and `defineOp` rejects one at load time.
 */

import { type Backend, backendsApart, type Operand } from "../backend/backend.ts";
import { fail, TsgradError } from "../errors.ts";
import { isGradEnabled } from "../grad-mode.ts";
import { type GradNode, Tensor, viewOf, wrapStorage } from "../tensor.ts";

export const NOT_DIFFERENTIABLE = "not differentiable" as const;

export interface GradContext<A> {
  readonly inputs: readonly Tensor[];
  readonly output: Tensor;
  readonly attrs: A;
}

export type GradThunk = (() => Tensor) | null;
export type BackwardRule<A> = (ctx: GradContext<A>, dy: Tensor) => readonly GradThunk[];

export interface OpDef<A> {
  readonly name: string;
  forward(backend: Backend, inputs: readonly Operand[], attrs: A): Operand;
  readonly backward: BackwardRule<A> | typeof NOT_DIFFERENTIABLE;
  /** The result shares input 0's buffer (reshape): forward returns that storage under a new shape. */
  readonly view?: boolean;
}

const registry = new Map<string, OpDef<unknown>>();

export function defineOp<A = undefined>(def: OpDef<A>): OpDef<A> {
  if (def === null || typeof def !== "object" || typeof def.name !== "string" || def.name === "") {
    fail("defineOp", "expected { name, forward, backward } with a non-empty name");
  }
  if (registry.has(def.name)) fail("defineOp", `op "${def.name}" is defined twice`);
  if (typeof def.forward !== "function") fail("defineOp", `op "${def.name}" has no forward`);
  if (typeof def.backward !== "function" && def.backward !== NOT_DIFFERENTIABLE) {
    fail("defineOp", `op "${def.name}" has no backward rule; give one or mark it NOT_DIFFERENTIABLE`);
  }
  registry.set(def.name, def as OpDef<unknown>);
  return def;
}

/** Every primitive, by name (the tests check each has examples, a gradcheck and error tests). */
export function registeredOps(): ReadonlyMap<string, OpDef<unknown>> {
  return registry;
}

/** The one backend all tensor inputs live on, or an error naming the op and both backends. */
export function commonBackend(op: string, inputs: readonly Tensor[]): Backend {
  const backend = inputs[0].backend;
  for (const t of inputs) {
    if (t.backend === backend) continue;
    if (t.backend.name === backend.name) {
      const [first, other] = backendsApart(backend, t.backend);
      fail(
        op,
        `inputs live on two different backend instances that are both named ${backend.name} (${first} and ${other}); make tensors with one instance (setBackend or the backend option), or move one with tensor.to()`,
      );
    }
    fail(op, `inputs live on different backends: ${backend.name} and ${t.backend.name}; move one with tensor.to()`);
  }
  return backend;
}

/** Runs a primitive and, when grad mode is on and an input requires grad, records its graph node. */
export function apply<A>(def: OpDef<A>, inputs: readonly Tensor[], attrs: A): Tensor {
  if (def === null || typeof def !== "object" || typeof def.forward !== "function") fail("apply", "expected an op made by defineOp");
  // liveness is checked by operand() below, with the message that names the op (a loop: this runs per op)
  if (!Array.isArray(inputs) || inputs.length === 0) fail(def.name, "expected a non-empty array of tensor inputs");
  for (let i = 0; i < inputs.length; i++) {
    if (!(inputs[i] instanceof Tensor)) fail(def.name, "expected a non-empty array of tensor inputs");
  }
  const backend = commonBackend(def.name, inputs);
  let result: Operand;
  try {
    result = def.forward(
      backend,
      inputs.map((t) => t.operand(def.name)),
      attrs,
    );
  } catch (error) {
    // a result too large for a typed array, or for the backend's memory, is the op's error, not the engine's
    const tooLarge =
      (error instanceof RangeError && /typed array length|array buffer|allocation failed/i.test(error.message)) ||
      (error instanceof TsgradError && /^[^:]*: out of memory/.test(error.message));
    if (tooLarge) {
      fail(
        def.name,
        `the result does not fit in memory (inputs ${inputs.map((t) => t.describe()).join(", ")}): ${(error as Error).message}`,
      );
    }
    throw error;
  }
  const out = def.view ? viewOf(inputs[0], result.shape, def.name) : wrapStorage(backend, result);
  if (def.backward !== NOT_DIFFERENTIABLE && isGradEnabled() && inputs.some((t) => t.requiresGrad)) {
    const node: GradNode = {
      op: def as OpDef<unknown>,
      inputs,
      attrs,
      versions: [...inputs, out].map((t) => t.buffer(def.name).version),
      released: false,
    };
    out.attachNode(node);
  }
  return out;
}
