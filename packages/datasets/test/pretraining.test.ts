/**
 * @file Pretraining text: whole chapters or documents on one side, the same ones on every run, and no
 * document of Brown genre's test set ever pretrained on (nor validated on), nor any speech of the SOTU
 * party task's test set.
 */

import { test } from "uvu";
import * as assert from "uvu/assert";
import { brownDocuments, brownGenre, pretrainingText, sotuParty, sotuSpeeches } from "../src/index.ts";

test("Moby Dick: 14 whole chapters held out, the rest trains, the contents nowhere", () => {
  const p = pretrainingText("moby-dick");
  assert.is(p, pretrainingText(), "moby-dick is the default, built once");
  assert.equal(p.validationParts, [
    "moby-dick/chapter-3",
    "moby-dick/chapter-11",
    "moby-dick/chapter-14",
    "moby-dick/chapter-17",
    "moby-dick/chapter-24",
    "moby-dick/chapter-38",
    "moby-dick/chapter-42",
    "moby-dick/chapter-52",
    "moby-dick/chapter-75",
    "moby-dick/chapter-80",
    "moby-dick/chapter-88",
    "moby-dick/chapter-107",
    "moby-dick/chapter-117",
    "moby-dick/chapter-121",
  ]);
  assert.equal(p.excludedParts, ["moby-dick/contents"]);
  assert.is(p.trainParts.length, 124);
  assert.ok(p.trainParts.includes("moby-dick/etymology") && p.trainParts.includes("moby-dick/epilogue"));
  assert.is(new Set([...p.trainParts, ...p.validationParts]).size, 138);
  assert.is(p.train.length, 1087771);
  assert.is(p.validation.length, 120815);
  assert.ok(p.train.includes("Call me Ishmael."));
  // a held-out chapter's opening is nowhere in the training text
  assert.ok(p.validation.includes("Entering that gable-ended Spouter-Inn"));
  assert.not.ok(p.train.includes("Entering that gable-ended Spouter-Inn"));
});

test("Brown: the genre task's pool trains, its validation documents validate, its test documents are in neither", () => {
  const p = pretrainingText("brown");
  const { groups } = brownGenre();
  const id = (part: string) => part.slice("brown/".length);
  assert.equal(p.trainParts.map(id).sort(), [...groups.pool]);
  assert.equal(p.validationParts.map(id).sort(), [...groups.validation]);
  assert.equal(p.excludedParts.map(id).sort(), [...groups.test]);
  const testDoc = brownDocuments().find((d) => d.id === groups.test[0])!;
  const probe = testDoc.sentences.find((s) => s.length > 80)!;
  assert.not.ok(p.train.includes(probe) || p.validation.includes(probe), "a test document's sentence was pretrained on");
  assert.not.ok(/\w\/(?:at|nn|vbd|in|jj)\b/.test(p.train.slice(0, 200_000)), "tags stripped");
  assert.is(p.train.length, 4474104);
  assert.is(p.validation.length, 594830);
});

test("both corpora together are the two sides joined", () => {
  const both = pretrainingText("moby-dick+brown");
  const m = pretrainingText("moby-dick");
  const b = pretrainingText("brown");
  assert.equal(both.trainParts, [...m.trainParts, ...b.trainParts]);
  assert.equal(both.validationParts, [...m.validationParts, ...b.validationParts]);
  assert.is(both.train, `${m.train}\n\n${b.train}`);
  assert.throws(
    () => pretrainingText("shakespeare" as "brown"),
    /corpus must be one of "moby-dick", "brown", "moby-dick\+brown", "moby-dick\+brown\+sotu", got shakespeare/,
  );
});

test("with SOTU: the party task's pool speeches train, its validation speeches validate, its test speeches are in neither", () => {
  const p = pretrainingText("moby-dick+brown+sotu");
  const { groups } = sotuParty();
  const ids = (parts: readonly string[]) =>
    parts
      .filter((x) => x.startsWith("sotu/"))
      .map((x) => x.slice("sotu/".length))
      .sort();
  assert.equal(ids(p.trainParts), [...groups.pool].sort());
  assert.equal(ids(p.validationParts), [...groups.validation].sort());
  assert.equal(ids(p.excludedParts), [...groups.test].sort());
  const speech = sotuSpeeches().find((s) => s.id === groups.test[0])!;
  const probe = speech.text.slice(1000, 1200);
  assert.not.ok(p.train.includes(probe) || p.validation.includes(probe), "a test speech was pretrained on");
  assert.ok(p.train.startsWith(pretrainingText("moby-dick+brown").train), "the other corpora come first, unchanged");
});

test.run();
