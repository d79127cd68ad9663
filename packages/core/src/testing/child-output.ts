/** @file For the tests that run a child process and act on what it prints (the kill tests of every save). */

import type { ChildProcess } from "node:child_process";

/**
 * Resolves once `child` has printed `text` on stdout; rejects, with what it printed, when it exits first
 * or when `timeoutMs` pass.
 */
export function printed(child: ChildProcess, text: string, timeoutMs = 30_000): Promise<void> {
  return new Promise((resolve, reject) => {
    let output = "";
    const timer = setTimeout(
      () => reject(new Error(`the child did not print "${text}" within ${timeoutMs} ms; it printed: ${output}`)),
      timeoutMs,
    );
    child.stdout?.on("data", (chunk) => {
      output += chunk;
      if (output.includes(text)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.stderr?.on("data", (chunk) => {
      output += chunk;
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the child exited with ${code} before printing "${text}": ${output}`));
    });
  });
}
