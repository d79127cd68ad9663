/**
 * @file What a reader of an email sees, as plain text: the RFC 822 headers dropped, MIME parts taken
 * apart (their boundaries and part headers dropped, non-text parts skipped, multipart/alternative read
 * as its plain-text version), quoted-printable and base64 decoded in the part's charset, HTML reduced
 * to its text, PGP armour removed, and header lines at the start of the text dropped too (a resent
 * message's headers, a spammer's template, a reply's quoted `Date:`/`From:` attribution).
 *
 * Each of these would otherwise give the label away: most spam is HTML or quoted-printable and most
 * ham is plain text from mailing lists, so tags, `=3D` escapes and boundary lines alone would tell
 * them apart. A small, forgiving parser for one corpus, not a general MIME library.
 */

interface ContentType {
  type: string;
  params: Map<string, string>;
}

/** Header names (lower-cased) to their first value, continuation lines unfolded. */
function parseHeaders(block: string): Map<string, string> {
  const out = new Map<string, string>();
  let name = "";
  for (const line of block.split("\n")) {
    if (/^[ \t]/.test(line) && name !== "") {
      out.set(name, `${out.get(name)} ${line.trim()}`);
      continue;
    }
    const m = /^([!-9;-~]+):(.*)$/.exec(line);
    if (m === null) {
      name = "";
      continue;
    }
    name = m[1].toLowerCase();
    if (out.has(name)) name = "";
    else out.set(name, m[2].trim());
  }
  return out;
}

/**
 * Headers and body of a message (`message`: the block before the first blank line is always headers;
 * it may start with an mbox `From ` line) or of a MIME part (headers only if its first line is one).
 */
export function splitHeaders(text: string, message: boolean): { headers: Map<string, string>; body: string } {
  const normal = text.replace(/\r\n?/g, "\n");
  if (!message && !/^[!-9;-~]+:/.test(normal)) return { headers: new Map(), body: normal.replace(/^\n/, "") };
  const end = normal.indexOf("\n\n");
  if (end < 0) return { headers: parseHeaders(normal), body: "" };
  return { headers: parseHeaders(normal.slice(0, end)), body: normal.slice(end + 2) };
}

function contentType(headers: Map<string, string>): ContentType {
  const value = headers.get("content-type") ?? "text/plain";
  const type = (/^\s*([^;\s]+)/.exec(value)?.[1] ?? "text/plain").toLowerCase();
  const params = new Map<string, string>();
  for (const m of value.matchAll(/;\s*([\w-]+)\s*=\s*(?:"([^"]*)"|([^;\s]+))/g)) params.set(m[1].toLowerCase(), m[2] ?? m[3]);
  return { type, params };
}

function decodeBytes(bytes: Uint8Array, charset: string | undefined): string {
  try {
    return new TextDecoder(charset ?? "utf-8").decode(bytes);
  } catch {
    return new TextDecoder("windows-1252").decode(bytes);
  }
}

/** Quoted-printable: soft line breaks joined, `=XX` to bytes; other characters as their UTF-8. */
export function decodeQuotedPrintable(text: string, charset?: string): string {
  const s = text.replace(/=[ \t]*\n/g, "");
  const bytes: number[] = [];
  const encoder = new TextEncoder();
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 61 && /^[0-9A-Fa-f]{2}$/.test(s.slice(i + 1, i + 3))) {
      bytes.push(Number.parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (c < 128) bytes.push(c);
    else bytes.push(...encoder.encode(s[i]));
  }
  return decodeBytes(Uint8Array.from(bytes), charset);
}

function decodeTransfer(body: string, encoding: string, charset: string | undefined): string {
  if (encoding === "base64") return decodeBytes(Buffer.from(body.replace(/[^A-Za-z0-9+/=]/g, ""), "base64"), charset);
  if (encoding === "quoted-printable") return decodeQuotedPrintable(body, charset);
  return body;
}

const ENTITIES: Record<string, string> = {
  nbsp: " ",
  amp: "&",
  lt: "<",
  gt: ">",
  quot: '"',
  apos: "'",
  copy: "©",
  reg: "®",
  trade: "™",
  mdash: "—",
  ndash: "–",
  hellip: "…",
  lsquo: "‘",
  rsquo: "’",
  ldquo: "“",
  rdquo: "”",
  bull: "•",
  middot: "·",
  euro: "€",
  pound: "£",
  cent: "¢",
  yen: "¥",
  deg: "°",
  laquo: "«",
  raquo: "»",
};

function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);?/gi, (whole, name: string) => {
    if (name[0] === "#") {
      const code = name[1] === "x" || name[1] === "X" ? Number.parseInt(name.slice(2), 16) : Number.parseInt(name.slice(1), 10);
      return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : " ";
    }
    return ENTITIES[name.toLowerCase()] ?? whole;
  });
}

const BLOCK_TAGS = /<\/?(?:br|p|div|tr|td|th|li|ul|ol|table|h[1-6]|hr|center|blockquote|pre|title|form|dl|dt|dd)\b[^>]*>/gi;

/** The text of an HTML document: comments, head, style and script dropped; block tags end lines. */
export function htmlToText(html: string): string {
  return decodeEntities(
    html
      .replace(/<!--[\s\S]*?-->/g, " ")
      .replace(/<(head|style|script)\b[\s\S]*?<\/\1\s*>/gi, " ")
      .replace(/<!doctype[^>]*>/gi, " ")
      .replace(BLOCK_TAGS, "\n")
      .replace(/<\/?[a-z][^>]*>/gi, ""),
  );
}

/** HTML sent as text/plain (common in spam) is still HTML. */
function looksLikeHtml(text: string): boolean {
  if (/<(?:html|body)\b/i.test(text)) return true;
  return (text.match(/<\/?(?:table|font|div|center|br|p|img|a)\b[^>]*>/gi)?.length ?? 0) >= 3;
}

function stripPgp(text: string): string {
  return text
    .replace(/-----BEGIN PGP SIGNED MESSAGE-----\n(?:Hash:[^\n]*\n)?\n?(?:Content-Type:[^\n]*\n\n)?/g, "")
    .replace(/-----BEGIN PGP SIGNATURE-----[\s\S]*?-----END PGP SIGNATURE-----/g, "");
}

const HEADER_LINE =
  /^[ \t]*(?:return-path|received|from|to|cc|bcc|subject|date|sent|message-id|reply-to|sender|mime-version|delivered-to|in-reply-to|references|precedence|errors-to|organization|user-agent|importance|priority|newsgroups|content-[\w-]+|list-[\w-]+|x-[\w-]+)[ \t]*:/i;

/**
 * The text without the header lines it starts with: runs of lines that begin with a standard header
 * name (and their indented continuations), each run ended by a blank or any other line.
 */
export function stripLeadingHeaders(text: string): string {
  const lines = text.split("\n");
  let i = 0;
  for (;;) {
    while (i < lines.length && lines[i].trim() === "") i++;
    if (i >= lines.length || !HEADER_LINE.test(lines[i])) break;
    i++;
    while (i < lines.length && (HEADER_LINE.test(lines[i]) || (/^[ \t]/.test(lines[i]) && lines[i].trim() !== ""))) i++;
  }
  return lines.slice(i).join("\n");
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** The parts between a multipart body's boundary lines (preamble and epilogue dropped). */
function splitMultipart(body: string, boundary: string): string[] | undefined {
  const delimiter = new RegExp(`^--${escapeRegExp(boundary)}(--)?[ \\t]*$`, "m");
  const pieces = body.split(new RegExp(delimiter.source, "gm"));
  // split with a capture group interleaves the captures: text, "--"|undefined, text, ...
  if (pieces.length < 3) return undefined;
  const parts: string[] = [];
  for (let i = 2; i < pieces.length; i += 2) {
    parts.push(pieces[i].replace(/^\n/, ""));
    if (pieces[i + 1] === "--") break;
  }
  return parts;
}

function partText(headers: Map<string, string>, body: string, depth: number): string {
  if (depth > 8) return "";
  const { type, params } = contentType(headers);
  const encoding = (headers.get("content-transfer-encoding") ?? "").trim().toLowerCase();
  if (type.startsWith("multipart/")) {
    const boundary = params.get("boundary");
    const parts = boundary === undefined ? undefined : splitMultipart(body, boundary);
    if (parts !== undefined) {
      const texts = parts.map((p) => {
        const part = splitHeaders(p, false);
        return { type: contentType(part.headers).type, text: partText(part.headers, part.body, depth + 1) };
      });
      const readable = texts.filter((t) => t.text.trim() !== "");
      if (type === "multipart/alternative") return (readable.find((t) => t.type === "text/plain") ?? readable[0])?.text ?? "";
      return readable.map((t) => t.text).join("\n");
    }
    // a multipart without its boundary is read as text
  } else if (type === "message/rfc822") {
    const inner = splitHeaders(body, true);
    return partText(inner.headers, inner.body, depth + 1);
  } else if (!type.startsWith("text/")) {
    return "";
  }
  const text = decodeTransfer(body, encoding, params.get("charset"));
  return type === "text/html" || looksLikeHtml(text) ? htmlToText(text) : text;
}

/** The readable text of a raw email: see the file's header. */
export function emailBody(raw: string): string {
  const { headers, body } = splitHeaders(raw, true);
  return stripLeadingHeaders(stripPgp(partText(headers, body, 0)));
}
