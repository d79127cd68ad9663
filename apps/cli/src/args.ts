/** @file The checks of option values that several commands share, and starting the backend they ask for. */

import { fail, ready, setBackend } from "@tsgrad/core";
import { loadTask, TASKS, type Task, type TaskName } from "@tsgrad/datasets";
import { METHODS, type StudyMethod } from "@tsgrad/training";

/** `value` as an integer >= min; `fallback` when the option was not given. */
export function integer(name: string, value: string | undefined, fallback?: number, min = 1): number {
  if (value === undefined && fallback !== undefined) return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min) fail("tsgrad", `--${name} must be an integer >= ${min}, got ${JSON.stringify(value)}`);
  return n;
}

/** `value` as a positive number; `fallback` when the option was not given. */
export function positive(name: string, value: string | undefined, fallback?: number): number {
  if (value === undefined && fallback !== undefined) return fallback;
  const n = Number(value);
  if (!(Number.isFinite(n) && n > 0)) fail("tsgrad", `--${name} must be a positive number, got ${JSON.stringify(value)}`);
  return n;
}

export function taskName(value: string | undefined, fallback?: string): TaskName {
  const name = value ?? fallback;
  if (name === undefined || !Object.hasOwn(TASKS, name))
    fail("tsgrad", `--task must be one of ${Object.keys(TASKS).join(", ")}, got ${JSON.stringify(value)}`);
  return name as TaskName;
}

/** The task of a run's configuration (its name was checked when the run was made). */
export function taskOf(config: { task: string }): Task {
  return loadTask(taskName(config.task));
}

export function methodName(value: string | undefined): StudyMethod {
  if (!METHODS.includes(value as StudyMethod))
    fail("tsgrad", `--method must be one of ${METHODS.join(", ")}, got ${JSON.stringify(value)}`);
  return value as StudyMethod;
}

/** The study's and the theory's --preset. */
export function fullOrToy(value: string): "full" | "toy" {
  if (value !== "full" && value !== "toy") fail("tsgrad", `--preset must be full or toy, got ${JSON.stringify(value)}`);
  return value;
}

export async function startBackend(values: { backend?: string; threads?: string }): Promise<void> {
  const options = values.threads === undefined ? {} : { threads: integer("threads", values.threads) };
  if (values.backend === "auto") {
    if (values.threads !== undefined)
      fail("tsgrad", "--threads is the wasm backend's; with --backend auto, leave it out (or name --backend wasm)");
    // auto is what ready() chooses when TSGRAD_BACKEND says so: a hardware GPU, else the wasm backend
    process.env.TSGRAD_BACKEND = "auto";
    await ready();
  } else if (values.backend !== undefined || values.threads !== undefined) await setBackend(values.backend ?? "wasm", options);
  else await ready();
}
