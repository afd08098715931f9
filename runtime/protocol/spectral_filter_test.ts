import assert from "node:assert/strict";
import { BusError } from "./errors.ts";
import { compileSpectralFilter, MAX_SPECTRAL_FILTER_BYTES } from "./spectral_filter.ts";
import { MAX_EIGENVALUES, spectralError } from "./spectral.ts";

const s = (coherence: number, criticality = 0) => ({ coherence, criticality });

Deno.test("spectral filters compare coherence and criticality with every operator", () => {
  const cases: [string, number, boolean][] = [
    ["coherence >= 0.75", 0.75, true],
    ["coherence >= 0.75", 0.7499, false],
    ["coherence > 0.75", 0.75, false],
    ["coherence <= 0.5", 0.5, true],
    ["coherence < 0.5", 0.5, false],
    ["coherence == 0.25", 0.25, true],
    ["coherence != 0.25", 0.25, false],
    ["coherence>=-1e-3", -0.0005, true],
    ["coherence >= .5", 0.5, true],
  ];
  for (const [text, c, want] of cases) {
    assert.equal(compileSpectralFilter(text).test(s(c)), want, `${text} on ${c}`);
  }
});

Deno.test("spectral filters join with && and || (&& binds tighter) and parentheses", () => {
  const f = compileSpectralFilter("criticality < 0.2 && coherence > 0.5");
  assert.equal(f.test(s(0.6, 0.1)), true);
  assert.equal(f.test(s(0.6, 0.3)), false);
  assert.equal(f.test(s(0.4, 0.1)), false);
  const g = compileSpectralFilter("coherence > 0.9 || coherence < 0.1 && criticality > 1");
  assert.equal(g.test(s(0.95)), true);
  assert.equal(g.test(s(0.05, 0)), false);
  assert.equal(g.test(s(0.05, 2)), true);
  const h = compileSpectralFilter(" ( coherence > 0.9 || coherence < 0.1 ) && criticality > 1 ");
  assert.equal(h.test(s(0.95, 0)), false);
  assert.equal(h.test(s(0.95, 2)), true);
  assert.equal(h.source, " ( coherence > 0.9 || coherence < 0.1 ) && criticality > 1 ");
});

Deno.test("a pulse without spectral metadata never matches; unset fields read as 0", () => {
  const f = compileSpectralFilter("coherence < 1");
  assert.equal(f.test(null), false);
  assert.equal(f.test(undefined), false);
  assert.equal(f.test({}), true);
  assert.equal(compileSpectralFilter("coherence != 0").test({}), false);
});

Deno.test("bad filters are INVALID_ARGUMENT naming where they fail", () => {
  const bad: [string, RegExp][] = [
    ["", /empty expression/],
    ["   ", /empty expression/],
    ["energy > 1", /unknown field "energy"/],
    ["coherence", /expected one of/],
    ["coherence = 1", /expected one of/],
    ["coherence >= ", /expected a number/],
    ["coherence >= abc", /expected a number/],
    ["coherence >= 1e999", /not a finite number/],
    ["coherence >= 1 &&", /expected coherence/],
    ["(coherence >= 1", /expected \)/],
    ["coherence >= 1)", /unexpected text at character 15/],
    ["coherence >= 1 & criticality < 1", /unexpected text/],
    ["coherence >= NaN", /expected a number/],
  ];
  for (const [text, why] of bad) {
    assert.throws(() => compileSpectralFilter(text), (e: unknown) => {
      assert.ok(e instanceof BusError, text);
      assert.equal(e.code, "INVALID_ARGUMENT");
      assert.match(e.message, why, text);
      return true;
    });
  }
});

Deno.test("a filter longer than the bound is refused; one at the bound parses", () => {
  let at = "coherence >= 0.5";
  while (at.length + " || coherence >= 0.5".length <= MAX_SPECTRAL_FILTER_BYTES) {
    at += " || coherence >= 0.5";
  }
  at = at.padEnd(MAX_SPECTRAL_FILTER_BYTES, " ");
  assert.equal(compileSpectralFilter(at).test(s(0.6)), true);
  assert.throws(() => compileSpectralFilter(at + " "), /longer than 256 bytes/);
  // Deep nesting within the bound parses (recursion stays shallow enough).
  const depth = (MAX_SPECTRAL_FILTER_BYTES - "coherence>1".length) / 2;
  const nested = "(".repeat(depth) + "coherence>1" + ")".repeat(depth);
  assert.equal(compileSpectralFilter(nested).test(s(2)), true);
});

Deno.test("spectral metadata must be finite with at most MAX_EIGENVALUES values", () => {
  assert.equal(spectralError({ coherence: 1, criticality: -2, eigenvalues: [1, 2] }), undefined);
  assert.equal(spectralError({}), undefined);
  assert.match(spectralError({ coherence: NaN })!, /coherence must be a finite number/);
  assert.match(spectralError({ criticality: -Infinity })!, /criticality must be/);
  assert.match(spectralError({ eigenvalues: [1, Infinity] })!, /eigenvalues\[1\]/);
  const max = Array.from({ length: MAX_EIGENVALUES }, (_, i) => i);
  assert.equal(spectralError({ eigenvalues: max }), undefined);
  assert.match(
    spectralError({ eigenvalues: [...max, 1] })!,
    /65 values, more than the limit of 64/,
  );
});
