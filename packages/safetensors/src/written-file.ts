/** What a write produced, or a read found: its length and SHA-256, so a file written beside it can vouch for it. */
export interface WrittenFile {
  bytes: number;
  sha256: string;
}
