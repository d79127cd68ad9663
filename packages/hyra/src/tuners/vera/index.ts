/** @file VeRA's exports: its layer and its tuner (registered in tuners/index.ts). */

export { VERA_DEFAULTS, type VeraConfig, type VeraOptions, veraTuner } from "./tuner.ts";
export { VeraLinear, type VeraSettings } from "./vera-linear.ts";
