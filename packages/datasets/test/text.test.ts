/**
 * @file The text helpers on small, hand-written inputs: sentences and chunks, email bodies (headers,
 * MIME parts, encodings, HTML, list footers) and Brown's untagging.
 */

import { test } from "uvu";
import * as assert from "uvu/assert";
import { detokenize, untag } from "../src/brown.ts";
import { decodeQuotedPrintable, emailBody, htmlToText, stripLeadingHeaders } from "../src/mime.ts";
import { speechChunks } from "../src/sotu.ts";
import { spamText, stripListFooters } from "../src/spam.ts";
import { chunkSentences, splitSentences, squeeze, truncate, wrap } from "../src/text.ts";

test("sentences end at . ! ? before a capital, but not after an abbreviation or an initial", () => {
  assert.equal(splitSentences("Mr. Smith went to Washington. He met Harry S. Truman! Did he? Yes. 4 more."), [
    "Mr. Smith went to Washington.",
    "He met Harry S. Truman!",
    "Did he?",
    "Yes.",
    "4 more.",
  ]);
  assert.equal(splitSentences('The U.S. Army grew. "We won," he said.'), ["The U.S. Army grew.", '"We won," he said.']);
  assert.equal(splitSentences("It cost $1.5 million in 1846. then it rose."), ["It cost $1.5 million in 1846. then it rose."]);
});

test("chunks pack whole sentences under both budgets; long sentences are wrapped; tiny chunks dropped", () => {
  const spec = { maxChars: 40, maxSentences: 2, minChars: 5 };
  assert.equal(chunkSentences(["One two.", "Three four.", "Five.", "Six seven eight."], spec), [
    "One two. Three four.",
    "Five. Six seven eight.",
  ]);
  const long = "word ".repeat(20).trim();
  const chunks = chunkSentences(["Hi.", long, "Bye now."], spec);
  assert.ok(chunks.every((c) => c.length <= 40));
  assert.equal(chunks.join(" ").replace(/\s+/g, " "), `${long} Bye now.`, "Hi. is dropped, nothing else is lost");
  assert.equal(wrap("abcdefghij", 4), ["abcd", "efgh", "ij"]);
  assert.is(truncate("the quick brown fox", 12), "the quick");
  assert.is(squeeze("  a \n\t b  "), "a b");
});

test("SOTU chunks lose the transcribers' notes", () => {
  const chunks = speechChunks(
    "Thank you all for coming here tonight. (Applause.) We are strong.—(applause)—Really [Laughter] strong today.",
  );
  assert.equal(chunks, ["Thank you all for coming here tonight. We are strong.—Really strong today."]);
});

const PLAIN = `From someone@example.com  Thu Aug 22 13:17:22 2002
Return-Path: <someone@example.com>
Received: from localhost (localhost [127.0.0.1])
\tby example.org (Postfix) with ESMTP id 136B943C32
From: Someone <someone@example.com>
Subject: Hello there
Content-Type: text/plain

Body line one.
Body line two.
`;

const MULTIPART = `From: a@b.c
Subject: offer
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="----=_NextPart_000"

This is a multi-part message in MIME format.

------=_NextPart_000
Content-Type: text/plain; charset="iso-8859-1"
Content-Transfer-Encoding: quoted-printable

Caf=E9 offer, soft=
 break=3D ok
------=_NextPart_000
Content-Type: text/html

<html><body><p>Caf&eacute; offer</p></body></html>
------=_NextPart_000--
epilogue
`;

const MIXED = `Subject: x
Content-Type: multipart/mixed; boundary=BOUND

--BOUND
Content-Type: text/html; charset=utf-8
Content-Transfer-Encoding: base64

${Buffer.from("<html><head><title>t</title><style>p{}</style></head><body><b>Bi</b>g <a href='x'>deal</a>&nbsp;&amp; more<br>next</body></html>").toString("base64")}
--BOUND
Content-Type: image/gif; name="x.gif"
Content-Transfer-Encoding: base64

R0lGODlhAQABAIAAAP///wAAACwAAAAAAQABAAACAkQBADs=
--BOUND--
`;

test("an email's body: headers gone, MIME parts decoded, the plain alternative chosen, attachments skipped", () => {
  assert.is(squeeze(emailBody(PLAIN)), "Body line one. Body line two.");
  assert.is(squeeze(emailBody(MULTIPART)), "Café offer, soft break= ok");
  assert.is(squeeze(emailBody(MIXED)), "Big deal & more next");
  assert.is(squeeze(emailBody(PLAIN.replace("\n\n", "\r\n\r\n").replaceAll("\n", "\r\n"))), "Body line one. Body line two.");
});

test("quoted-printable, HTML and header-like openings", () => {
  assert.is(decodeQuotedPrintable("a=3Db=\nc =C3=A9", "utf-8"), "a=bc é");
  assert.is(squeeze(htmlToText("<!-- hidden --><script>x()</script><div>a</div><font>b</font>&#233;&#x41;&unknown;")), "a béA&unknown;");
  assert.is(stripLeadingHeaders("\n    Date: Wed, 21 Aug 2002\n    From: Chris <c@d.e>\n\n  | quoted text"), "  | quoted text");
  assert.is(stripLeadingHeaders("To: \nFrom: \nSubject: Hello\nMy name is Danny."), "My name is Danny.");
  assert.is(stripLeadingHeaders("FROM: DR. BEN\n\nCompliments of the season."), "Compliments of the season.");
  assert.is(stripLeadingHeaders("Dear friend,\nFrom: me"), "Dear friend,\nFrom: me", "only the opening lines");
  // text/plain that is HTML is read as HTML; PGP armour goes
  assert.is(squeeze(emailBody("Subject: x\n\n<html><body>Hi <b>there</b></body></html>")), "Hi there");
  const signed =
    "Subject: x\n\n-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA1\n\nSigned text.\n-----BEGIN PGP SIGNATURE-----\nabc\n-----END PGP SIGNATURE-----\n";
  assert.is(squeeze(emailBody(signed)), "Signed text.");
});

test("list footers are cut, the message's own text is kept", () => {
  const mailman =
    "Real text.\n\n_______________________________________________\nRazor-users mailing list\nRazor-users@lists.sourceforge.net\nhttps://lists.sourceforge.net/lists/listinfo/razor-users\n";
  assert.is(stripListFooters(mailman).trim(), "Real text.");
  const ilug =
    "Real text.\n-- \nIrish Linux Users' Group: ilug@linux.ie\nhttp://www.linux.ie/mailman/listinfo/ilug for (un)subscription information.\n";
  assert.is(stripListFooters(ilug).trim(), "Real text.");
  assert.is(stripListFooters("Real text.\nhttp://xent.com/mailman/listinfo/fork\n").trim(), "Real text.");
  const far = `Subscribe at\nhttp://xent.com/mailman/listinfo/fork\n${"and then a long message. ".repeat(100)}`;
  assert.is(stripListFooters(far), far, "a match far from the end is the message's text");
  assert.is(spamText(`Subject: x\n\n${"word ".repeat(300)}`).length <= 512, true);
});

test("Brown: tags stripped (at the last slash), tokens joined back into text", () => {
  assert.is(
    untag("\tThe/at jury/nn said/vbd ``/`` no/at evidence/nn ''/'' ,/, 1-1/2/cd miles/nns ./."),
    'The jury said "no evidence", 1-1/2 miles.',
  );
  assert.is(detokenize(["(", "see", "above", ")", "and", "stop", "!"]), "(see above) and stop!");
});

test.run();
