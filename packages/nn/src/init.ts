/**
 * @file Initialisation schemes in one place, all drawn from seeded generators (the global one unless
 * `generator` is given). Each returns a new tensor of the given shape; a layer wraps it in a Parameter.
 *
 * Fans follow PyTorch: for a weight [out, in, ...rest], fanIn = in·Π rest and fanOut = out·Π rest.
 */

import { checkNumberList, checkOptions, type DType, fail, type Generator, normal, type Tensor, uniform, zeros } from "@tsgrad/core";

export interface InitOptions {
  dtype?: DType;
  generator?: Generator;
}

export type Nonlinearity = "linear" | "sigmoid" | "tanh" | "relu" | "leaky_relu";

/** fanIn and fanOut of a weight shape, as torch.nn.init._calculate_fan_in_and_fan_out. */
export function fans(shape: readonly number[]): { fanIn: number; fanOut: number } {
  checkNumberList("fans", shape, "the shape");
  if (shape.length < 2) fail("init", `fan in and fan out need a shape with at least 2 axes, got [${shape}]`);
  const receptive = shape.slice(2).reduce((n, d) => n * d, 1);
  return { fanIn: shape[1] * receptive, fanOut: shape[0] * receptive };
}

/** The recommended gain for a nonlinearity (torch.nn.init.calculate_gain). */
export function gain(nonlinearity: Nonlinearity, negativeSlope = 0.01): number {
  switch (nonlinearity) {
    case "linear":
    case "sigmoid":
      return 1;
    case "tanh":
      return 5 / 3;
    case "relu":
      return Math.SQRT2;
    case "leaky_relu":
      return Math.sqrt(2 / (1 + negativeSlope * negativeSlope));
  }
  // reachable from JavaScript callers, or a mistyped string cast past the type
  return fail("gain", `nonlinearity must be one of ${NONLINEARITIES.join(", ")}, got ${JSON.stringify(nonlinearity)}`);
}

const NONLINEARITIES: readonly Nonlinearity[] = ["linear", "sigmoid", "tanh", "relu", "leaky_relu"];

/** U(low, high). */
export function uniformInit(shape: readonly number[], low: number, high: number, options: InitOptions = {}): Tensor {
  checkOptions("uniformInit", options, ["dtype", "generator"]);
  if (!(Number.isFinite(low) && Number.isFinite(high) && low <= high)) {
    fail("uniformInit", `needs finite bounds low <= high, got low=${low}, high=${high}`);
  }
  return uniform(shape, low, high, made(options));
}

/** N(mean, std²). */
export function normalInit(shape: readonly number[], mean: number, std: number, options: InitOptions = {}): Tensor {
  checkOptions("normalInit", options, ["dtype", "generator"]);
  if (!(Number.isFinite(mean) && Number.isFinite(std) && std >= 0)) {
    fail("normalInit", `needs a finite mean and a finite std >= 0, got mean=${mean}, std=${std}`);
  }
  return normal(shape, mean, std, made(options));
}

/** The options a factory takes, of an initialiser's: its dtype and generator (its own options stay here). */
const made = (options: InitOptions) => ({ dtype: options.dtype, generator: options.generator });

export function zerosInit(shape: readonly number[], options: InitOptions = {}): Tensor {
  checkOptions("zerosInit", options, ["dtype", "generator"]);
  return zeros(shape, { dtype: options.dtype });
}

export interface KaimingOptions extends InitOptions {
  /** Negative slope of the leaky relu that follows (PyTorch's Linear uses √5). */
  a?: number;
  mode?: "fanIn" | "fanOut";
  nonlinearity?: Nonlinearity;
}

function kaimingStd(shape: readonly number[], options: KaimingOptions): number {
  checkOptions("kaiming", options, ["dtype", "generator", "a", "mode", "nonlinearity"]);
  const { a = 0, mode = "fanIn", nonlinearity = "leaky_relu" } = options;
  // PyTorch spells it "fan_in": a mode that is neither must not silently fall back to one of them
  if (mode !== "fanIn" && mode !== "fanOut") fail("kaiming", `mode must be "fanIn" or "fanOut", got ${JSON.stringify(mode)}`);
  const { fanIn, fanOut } = fans(shape);
  const fan = mode === "fanIn" ? fanIn : fanOut;
  return fan > 0 ? gain(nonlinearity, a) / Math.sqrt(fan) : 0;
}

/** U(±gain·√(3/fan)) (torch.nn.init.kaiming_uniform_). */
export function kaimingUniform(shape: readonly number[], options: KaimingOptions = {}): Tensor {
  const bound = Math.sqrt(3) * kaimingStd(shape, options);
  return uniform(shape, -bound, bound, made(options));
}

/** N(0, (gain/√fan)²) (torch.nn.init.kaiming_normal_). */
export function kaimingNormal(shape: readonly number[], options: KaimingOptions = {}): Tensor {
  return normal(shape, 0, kaimingStd(shape, options), made(options));
}

/** U(±gain·√(6/(fanIn + fanOut))) (torch.nn.init.xavier_uniform_). */
export function xavierUniform(shape: readonly number[], options: InitOptions & { gain?: number } = {}): Tensor {
  checkOptions("xavierUniform", options, ["dtype", "generator", "gain"]);
  const { fanIn, fanOut } = fans(shape);
  const bound = (options.gain ?? 1) * Math.sqrt(6 / Math.max(fanIn + fanOut, 1));
  return uniform(shape, -bound, bound, made(options));
}

/** N(0, gain²·2/(fanIn + fanOut)) (torch.nn.init.xavier_normal_). */
export function xavierNormal(shape: readonly number[], options: InitOptions & { gain?: number } = {}): Tensor {
  checkOptions("xavierNormal", options, ["dtype", "generator", "gain"]);
  const { fanIn, fanOut } = fans(shape);
  return normal(shape, 0, (options.gain ?? 1) * Math.sqrt(2 / Math.max(fanIn + fanOut, 1)), made(options));
}
