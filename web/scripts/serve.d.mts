import type { Server } from "node:http";

/** Starts the page's server on `root` and `port` (0: any free one); resolves once it listens (see serve.mjs). */
export function serve(root: string, port: number): Promise<Server>;
