/**
 * @file Where a JSON text goes wrong. JSON.parse says so only sometimes ("at position 6", or "Unexpected
 * token '}', ... is not valid JSON" with no position), and a config's error must say where to look.
 * Run only after JSON.parse has failed; it scans iteratively, so no nesting depth can overflow the stack.
 */

const SCALAR = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|true|false|null/y;
const HEX4 = /[0-9a-fA-F]{4}/y;

/** The offset of the first character that cannot continue valid JSON, or -1 if the text is valid. */
export function jsonErrorOffset(text: string): number {
  let i = 0;
  const stack: string[] = [];
  const space = () => {
    while (i < text.length && (text[i] === " " || text[i] === "\t" || text[i] === "\n" || text[i] === "\r")) i++;
  };
  const string = (): boolean => {
    if (text[i] !== '"') return false;
    i++;
    while (i < text.length) {
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return true;
      }
      if (c < 0x20) return false;
      if (c !== 0x5c) {
        i++;
        continue;
      }
      const e = text[i + 1];
      if (e === "u") {
        HEX4.lastIndex = i + 2;
        if (!HEX4.test(text)) return false;
        i += 6;
      } else if (e !== undefined && '"\\/bfnrt'.includes(e)) {
        i += 2;
      } else {
        return false;
      }
    }
    return false;
  };
  const key = (): boolean => {
    if (!string()) return false;
    space();
    if (text[i] !== ":") return false;
    i++;
    return true;
  };
  let expectValue = true;
  for (;;) {
    space();
    if (expectValue) {
      const c = text[i];
      if (c === "{" || c === "[") {
        stack.push(c);
        i++;
        space();
        if (text[i] === (c === "{" ? "}" : "]")) {
          stack.pop();
          i++;
          expectValue = false;
        } else if (c === "{" && !key()) {
          return i;
        }
        continue;
      }
      if (c === '"') {
        if (!string()) return i;
      } else {
        SCALAR.lastIndex = i;
        if (!SCALAR.test(text)) return i;
        i = SCALAR.lastIndex;
      }
      expectValue = false;
      continue;
    }
    const top = stack.at(-1);
    if (top === undefined) return i < text.length ? i : -1;
    const c = text[i];
    if (c === ",") {
      i++;
      space();
      if (top === "{" && !key()) return i;
      expectValue = true;
    } else if (c === (top === "{" ? "}" : "]")) {
      stack.pop();
      i++;
    } else {
      return i;
    }
  }
}

/** The deepest nesting of arrays and objects in a JSON text (brackets inside strings do not count). */
export function nestingDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
    } else if (c === '"') {
      inString = true;
    } else if (c === "[" || c === "{") {
      deepest = Math.max(deepest, ++depth);
    } else if (c === "]" || c === "}") {
      depth--;
    }
  }
  return deepest;
}

/** "line 3, column 7" for an offset into `text` (both counted from 1). */
export function lineAndColumn(text: string, offset: number): string {
  const before = text.slice(0, offset);
  const line = before.split("\n").length;
  const column = offset - (before.lastIndexOf("\n") + 1) + 1;
  return `line ${line}, column ${column}`;
}
