/** The folders of pnpm-workspace.yaml's `packages:` entries, relative to `root` (see workspace.mjs). */
export function workspacePackages(root: string): string[];
