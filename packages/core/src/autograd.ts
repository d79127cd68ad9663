/**
 * @file Reverse-mode autodiff: micrograd's backward at tensor granularity.
 *
 * `backward()` orders the graph topologically from the root, seeds the root's gradient, and visits each
 * node in reverse, asking its op's rule for the inputs' gradients. Here, and only here, each gradient is
 * summed back to its input's shape after broadcasting and cast to its dtype. Gradients of one tensor from
 * several uses add up. Leaves that require grad (and tensors that called retainGrad) receive theirs in
 * `.grad`; `grad()` returns them instead. Unless `retainGraph` is set, the graph is freed afterwards.
 * With `createGraph`, the backward pass is itself recorded, so gradients of gradients work.
 */

import { checkOptions, checkTensor } from "./args.ts";
import { describeValue, fail, fmtShape } from "./errors.ts";
import { onesLike } from "./factories.ts";
import { enableGrad, noGrad } from "./grad-mode.ts";
import { tidy } from "./memory.ts";
import { cast } from "./ops/cast.ts";
import { add } from "./ops/elementwise.ts";
import { reshape } from "./ops/movement.ts";
import { sum } from "./ops/reduce.ts";
import { NOT_DIFFERENTIABLE } from "./ops/registry.ts";
import { broadcastReductionAxes, checkShape, sameShape } from "./shape.ts";
import { Tensor } from "./tensor.ts";

export interface BackwardOptions {
  /** Keep the graph so backward can run through it again. */
  retainGraph?: boolean;
  /** Record the backward pass itself, for higher-order gradients (implies retainGraph). */
  createGraph?: boolean;
}

/** Sums a gradient over the axes that broadcasting added, so it has `shape` again. */
export function sumToShape(g: Tensor, shape: readonly number[]): Tensor {
  checkTensor("sumToShape", g, "the gradient");
  checkShape("sumToShape", shape);
  if (sameShape(g.shape, shape)) return g;
  const axes = broadcastReductionAxes(g.shape, shape);
  return reshape(sum(g, axes, true), shape);
}

/** Tensors with a node, in an order where every tensor comes after the inputs it was made from. */
function topologicalOrder(roots: readonly Tensor[]): Tensor[] {
  const order: Tensor[] = [];
  const visited = new Set<Tensor>();
  // iterative post-order DFS, so a chain of thousands of ops cannot overflow the stack
  const stack: { t: Tensor; next: number }[] = [];
  for (const root of roots) {
    if (visited.has(root)) continue;
    visited.add(root);
    stack.push({ t: root, next: 0 });
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      const inputs = top.t.node?.inputs ?? [];
      if (top.next < inputs.length) {
        const child = inputs[top.next++];
        if (!visited.has(child) && child.requiresGrad) {
          visited.add(child);
          stack.push({ t: child, next: 0 });
        }
      } else {
        stack.pop();
        if (top.t.node) order.push(top.t);
      }
    }
  }
  return order;
}

/** Which tensors lead to a wanted one: only their gradients are computed. */
function neededSet(order: readonly Tensor[], wanted: (t: Tensor) => boolean): Set<Tensor> {
  const needed = new Set<Tensor>();
  for (const t of order) {
    // inputs come earlier in `order`, so their membership is already known (leaves are checked directly)
    if (wanted(t) || t.node?.inputs.some((x) => needed.has(x) || (!x.node && wanted(x)))) needed.add(t);
  }
  return needed;
}

interface RunOptions extends BackwardOptions {
  /** Tensors whose gradients are wanted (grad()); when absent, accumulate into leaves' .grad (backward()). */
  targets?: readonly Tensor[];
}

function run(where: string, roots: readonly Tensor[], seeds: readonly Tensor[], options: RunOptions): Map<Tensor, Tensor> {
  const createGraph = options.createGraph ?? false;
  const retainGraph = options.retainGraph ?? createGraph;
  const targets = options.targets ? new Set(options.targets) : null;
  const wanted = (t: Tensor) => (targets ? targets.has(t) : t.requiresGrad && (!t.node || t.retainsGrad));

  const order = topologicalOrder(roots);
  // a freed node has lost its inputs, so it may lead to any wanted tensor: reaching it must fail, not skip
  const needed = neededSet(order, (t) => wanted(t) || t.node?.released === true);
  const grads = new Map<Tensor, Tensor>();
  // Without createGraph, a gradient is freed as soon as nothing needs it: an intermediate one once its
  // node's rule has run, a partial sum once it is added into the next. One gradient tensor can stand for
  // several tensors (add hands dy to both inputs), so each is counted; the callers' seeds are never freed.
  const eager = !createGraph;
  const holders = new Map<Tensor, number>();
  const seedSet = new Set(seeds);
  const hold = (g: Tensor) => holders.set(g, (holders.get(g) ?? 0) + 1);
  const release = (g: Tensor) => {
    const n = (holders.get(g) ?? 0) - 1;
    if (n > 0) holders.set(g, n);
    else {
      holders.delete(g);
      if (eager && !seedSet.has(g)) g.dispose();
    }
  };
  const accumulate = (t: Tensor, g: Tensor) => {
    const previous = grads.get(t);
    if (!previous) {
      grads.set(t, g);
      hold(g);
      return;
    }
    const sum = add(previous, g);
    grads.set(t, sum);
    hold(sum);
    release(previous);
    if (eager && !holders.has(g) && !seedSet.has(g)) g.dispose();
  };
  for (const [i, root] of roots.entries()) accumulate(root, seeds[i]);

  const body = () => {
    for (let i = order.length - 1; i >= 0; i--) {
      const t = order[i];
      const dy = grads.get(t);
      const node = t.node;
      if (!dy || !node || !needed.has(t)) continue;
      if (node.released) {
        fail(where, "the graph was freed by an earlier backward(); pass { retainGraph: true } to that call to run backward twice");
      }
      // the node's inputs, then its output (versions holds them in that order); loops: this runs per op
      for (let j = 0; j <= node.inputs.length; j++) {
        const x = j < node.inputs.length ? node.inputs[j] : t;
        if (x.isDisposed)
          fail(where, `an input of "${node.op.name}" was disposed before backward(); dispose after it, or tidy around the whole step`);
        if (x.buffer(where).version !== node.versions[j]) {
          fail(where, `an input of "${node.op.name}" was modified in place (assign) after it was used; its gradient would be wrong`);
        }
      }
      if (node.op.backward === NOT_DIFFERENTIABLE) continue;
      const thunks = node.op.backward({ inputs: node.inputs, output: t, attrs: node.attrs }, dy);
      node.inputs.forEach((x, j) => {
        const thunk = thunks[j];
        if (!thunk || !x.requiresGrad || !(needed.has(x) || (!x.node && wanted(x)))) return;
        const gradient = () => {
          const g = sumToShape(thunk(), x.shape);
          return g.dtype === x.dtype ? g : cast(g, x.dtype);
        };
        // a rule's temporaries are freed at once; with createGraph they are part of the recorded graph
        accumulate(x, eager ? tidy(gradient) : gradient());
      });
      if (eager && !wanted(t)) {
        grads.delete(t);
        release(dy);
      }
    }
  };
  if (createGraph) enableGrad(body);
  else noGrad(body);

  if (!retainGraph) {
    for (const t of order) {
      if (t.node) {
        t.node.released = true;
        t.node.inputs = [];
      }
    }
  }
  return grads;
}

function checkRoot(where: string, root: Tensor, gradient: Tensor | undefined): Tensor {
  if (!(root instanceof Tensor)) fail(where, "expected a Tensor");
  root.checkLive(where, "the tensor");
  if (gradient !== undefined && !(gradient instanceof Tensor)) {
    fail(
      where,
      `the gradient must be a Tensor of the tensor's shape ${fmtShape(root.shape)}, got ${describeValue(gradient)}; wrap it with tensor(...)`,
    );
  }
  gradient?.checkLive(where, "the gradient");
  if (!root.requiresGrad) {
    fail(where, "this tensor does not require grad: no tensor it was computed from has requiresGrad set (or it was made under noGrad)");
  }
  if (gradient === undefined) {
    if (root.size !== 1) {
      fail(
        where,
        `backward() without a gradient needs a one-element tensor, got shape ${fmtShape(root.shape)}; pass the upstream gradient`,
      );
    }
    return onesLike(root);
  }
  if (!sameShape(gradient.shape, root.shape)) {
    fail(where, `the gradient has shape ${fmtShape(gradient.shape)} but the tensor has shape ${fmtShape(root.shape)}`);
  }
  return gradient.dtype === root.dtype ? gradient : cast(gradient, root.dtype);
}

/**
 * Accumulates d(root)/d(leaf) into `.grad` of every leaf that requires grad (and of tensors that called
 * retainGrad). Without `gradient`, root must have one element (the gradient is 1).
 */
export function backward(root: Tensor, gradient?: Tensor, options: BackwardOptions = {}): void {
  checkOptions("backward", options, ["retainGraph", "createGraph"]);
  const seed = checkRoot("backward", root, gradient);
  const grads = run("backward", [root], [seed], options);
  // A rule may hand one tensor to several inputs (add gives dy to both), and the seed may be the caller's
  // own tensor: each .grad must own its tensor, or disposing one would free another.
  const owned = new Set<Tensor>(gradient ? [gradient] : []);
  const record = options.createGraph ? <T>(fn: () => T) => fn() : noGrad;
  for (const [t, g] of grads) {
    if (!t.requiresGrad || (t.node && !t.retainsGrad)) continue;
    const previous = t.grad;
    const next = previous ? record(() => add(previous, g)) : owned.has(g) ? record(() => g.clone()) : g;
    owned.add(next);
    if (previous && !options.createGraph) previous.dispose();
    // gradients outlive the tidy scope that computed them, as optimisers read them afterwards
    t.grad = next.keep();
  }
}

export interface GradOptions extends BackwardOptions {
  /** Upstream gradients, one per output (required for outputs with more than one element). */
  gradOutputs?: readonly Tensor[];
  /** Return null for inputs the outputs do not depend on, instead of throwing. */
  allowUnused?: boolean;
}

/**
 * The gradients of outputs with respect to inputs, returned instead of stored (torch.autograd.grad).
 * Leaves' `.grad` is left alone. With createGraph, the results can be differentiated again.
 */
export function grad(outputs: Tensor | readonly Tensor[], inputs: readonly Tensor[], options: GradOptions = {}): (Tensor | null)[] {
  checkOptions("grad", options, ["retainGraph", "createGraph", "gradOutputs", "allowUnused"]);
  if (!Array.isArray(inputs)) fail("grad", `inputs must be an array of tensors, got ${describeValue(inputs)}`);
  const roots = Array.isArray(outputs) ? outputs : [outputs as Tensor];
  if (options.gradOutputs && options.gradOutputs.length !== roots.length) {
    fail("grad", `got ${options.gradOutputs.length} gradOutputs for ${roots.length} outputs`);
  }
  inputs.forEach((x, i) => {
    if (!(x instanceof Tensor) || !x.requiresGrad) fail("grad", `input ${i} does not require grad`);
  });
  const seeds = roots.map((r, i) => checkRoot("grad", r, options.gradOutputs?.[i]));
  const grads = run("grad", roots, seeds, { ...options, targets: inputs });
  return inputs.map((x, i) => {
    const g = grads.get(x);
    if (!g && !options.allowUnused) {
      fail("grad", `input ${i} was not used to compute the outputs; pass { allowUnused: true } to get null for it`);
    }
    return g ?? null;
  });
}
