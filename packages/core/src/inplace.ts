/**
 * @file In-place, no-grad updates (`assign`, for optimisers and adapter merging) and moving a tensor to
 * another backend (`to`).
 */

import { checkTensor } from "./args.ts";
import { type Backend, backendsApart } from "./backend/backend.ts";
import { isFloat } from "./dtype.ts";
import { checkBackendHolds, fail, fmtShape } from "./errors.ts";
import { isGradEnabled, noGrad } from "./grad-mode.ts";
import { tidy } from "./memory.ts";
import { cast, scalarOn, type TensorLike } from "./ops/cast.ts";
import { expand } from "./ops/movement.ts";
import { broadcastShapes, sameShape } from "./shape.ts";
import { resolveBackend, Tensor, uploadTensor } from "./tensor.ts";

/**
 * Overwrites dst's values with src (broadcast to dst's shape and cast to its dtype), like PyTorch's
 * `copy_` under no_grad. Refused while grad mode is on for a tensor that requires grad or belongs to a
 * recorded graph, because the graph would silently compute wrong gradients; run updates in noGrad().
 * Other tensors viewing the same buffer (reshapes) see the new values too.
 */
export function assign(dst: Tensor, src: TensorLike): Tensor {
  checkTensor("assign", dst, "the destination");
  if (isGradEnabled() && (dst.requiresGrad || dst.node)) {
    fail("assign", "refused on a tensor that requires grad while grad mode is on; run the update inside noGrad()");
  }
  const buffer = dst.buffer("assign");
  if (src instanceof Tensor && src.backend !== dst.backend) {
    const [from, to] = backendsApart(src.backend, dst.backend);
    fail("assign", `source lives on ${from} but the destination on ${to}; move the source with await source.to(destination.backend)`);
  }
  if (src instanceof Tensor && !isFloat(dst.dtype) && isFloat(src.dtype)) {
    fail("assign", `cannot write ${src.dtype} values into a ${dst.dtype} tensor without an explicit cast`);
  }
  // tidy frees the broadcast and cast temporaries
  tidy(() =>
    noGrad(() => {
      const s = src instanceof Tensor ? src : scalarOn(dst.backend, src, dst.dtype);
      const shape = broadcastShapes("assign", s.shape, dst.shape);
      if (!sameShape(shape, dst.shape)) {
        fail("assign", `a source of shape ${fmtShape(s.shape)} does not fit the destination ${fmtShape(dst.shape)}`);
      }
      const value = cast(expand(s, dst.shape), dst.dtype);
      dst.backend.assign(dst.operand("assign"), value.operand("assign"));
    }),
  );
  buffer.version++;
  buffer.hostCopy = undefined;
  return dst;
}

/**
 * A copy of x on another backend (a leaf with the same requiresGrad). Asynchronous, because reading
 * from an asynchronous backend (WebGPU) is.
 */
export async function to(x: Tensor, target: string | Backend): Promise<Tensor> {
  checkTensor("to", x, "the tensor");
  const backend = resolveBackend("to", target);
  if (backend === x.backend) return x;
  checkBackendHolds("to", backend, x.dtype);
  const copy = uploadTensor("to", backend, await x.data(), x.shape, x.dtype);
  if (x.requiresGrad) copy.requiresGrad = true;
  return copy;
}
