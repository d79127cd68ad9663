/** @file The facts about the machine and the checkout that every report carries, so numbers are never read without their context. */

import { execFileSync } from "node:child_process";
import { availableParallelism, cpus, loadavg, totalmem } from "node:os";

export interface MachineFacts {
  cpu: string;
  /** Logical cores this process may use. */
  cores: number;
  node: string;
  platform: string;
  memoryGiB: number;
  /** 1-minute load average when the run started and when it ended (other work on the machine skews times). */
  loadStart: number;
  loadEnd?: number;
  git: string;
  date: string;
}

function gitDescription(): string {
  try {
    const git = (...args: string[]) => execFileSync("git", args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    const sha = git("rev-parse", "--short", "HEAD");
    return git("status", "--porcelain").length > 0 ? `${sha} with uncommitted changes` : sha;
  } catch {
    return "unknown (not a git checkout)";
  }
}

export function machineFacts(): MachineFacts {
  return {
    cpu: cpus()[0]?.model.trim() ?? "unknown",
    cores: availableParallelism(),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    loadStart: Number(loadavg()[0].toFixed(2)),
    git: gitDescription(),
    date: new Date().toISOString(),
  };
}

export function finishFacts(facts: MachineFacts): MachineFacts {
  return { ...facts, loadEnd: Number(loadavg()[0].toFixed(2)) };
}
