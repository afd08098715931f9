// Built-in operator `classify`: names the class of a float32 feature vector with threshold
// rules from its config, and publishes `{"class": "<name>", "values": {...}}` (JSON) on
// config `to`. The circuit demo puts it after a `harmonics` feature program
// (docs/operators.md, "Circuits"); it is stateless, so it runs as any number of instances.
//
// Config:
//   to        the topic it publishes on
//   features  names of the input's float32s, in order (the payload must hold exactly these)
//   ratios    optional {"name": ["numerator", "denominator"]}: derived values (0 when the
//             denominator is 0; the Harmonics bytecode has no division, so a spectral
//             centroid arrives as a moment and a power and is divided here)
//   rules     [{"class": "c", "when": {"value": {"below": x, "above": y}}}, ...]: the first
//             rule whose every condition holds names the class (below: <, above: >)
//   default   the class when no rule holds
import {
  JsonKind,
  JsonValue,
  log,
  LogLevel,
  outputText,
  parseJsonString,
  Pulse,
} from "@arqon/operator";

/** Most features, ratios, rules, and conditions of one rule. */
const MAX_ITEMS: i32 = 64;

class Cond {
  constructor(public index: i32, public below: f64, public above: f64) {}
}

class Rule {
  constructor(public klass: string, public conds: Cond[]) {}
}

let to: string = "";
let names: string[] = [];
let featureCount: i32 = 0;
let ratioNum: i32[] = [];
let ratioDen: i32[] = [];
let rules: Rule[] = [];
let fallback: string = "";
let values: StaticArray<f64> = new StaticArray<f64>(0);

function indexOf(name: string): i32 {
  for (let i = 0; i < names.length; i++) if (names[i] == name) return i;
  return -1;
}

/** A JSON string literal (the names come from the config; escape what JSON needs). */
function quote(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c == 0x22) out += '\\"';
    else if (c == 0x5c) out += "\\\\";
    else if (c < 0x20) out += "\\u00" + (c < 0x10 ? "0" : "") + c.toString(16);
    else out += String.fromCharCode(c);
  }
  return out + '"';
}

function configError(message: string): string {
  return "classify: config: " + message;
}

function readRules(r: JsonValue): string | null {
  if (r.kind != JsonKind.Array || r.items.length > MAX_ITEMS) {
    return "rules must be an array of at most 64 rules";
  }
  for (let i = 0; i < r.items.length; i++) {
    const rule = r.items[i];
    const at = "rules[" + i.toString() + "]";
    if (rule.kind != JsonKind.Object) return at + " must be an object";
    const k = rule.get("class");
    if (k === null || k.kind != JsonKind.String || k.str.length == 0) {
      return at + ".class must be a non-empty string";
    }
    const when = rule.get("when");
    if (when === null || when.kind != JsonKind.Object || when.keys.length > MAX_ITEMS) {
      return at + ".when must be an object {\"value\": {\"below\"|\"above\": number}}";
    }
    const conds = new Array<Cond>(0);
    for (let j = 0; j < when.keys.length; j++) {
      const index = indexOf(when.keys[j]);
      if (index < 0) return at + ".when: no feature or ratio named " + when.keys[j];
      const c = when.values[j];
      if (c.kind != JsonKind.Object) return at + ".when." + when.keys[j] + " must be an object";
      let below = Infinity, above = -Infinity;
      for (let m = 0; m < c.keys.length; m++) {
        const v = c.values[m];
        if (v.kind != JsonKind.Number) return at + ".when." + when.keys[j] + ": numbers only";
        if (c.keys[m] == "below") below = v.num;
        else if (c.keys[m] == "above") above = v.num;
        else return at + ".when." + when.keys[j] + ": unknown member " + c.keys[m];
      }
      conds.push(new Cond(index, below, above));
    }
    rules.push(new Rule(k.str, conds));
  }
  return null;
}

export function init(config: string): string | null {
  const c = parseJsonString(config);
  if (c === null || c.kind != JsonKind.Object) return configError("must be a JSON object");
  for (let i = 0; i < c.keys.length; i++) {
    const k = c.keys[i];
    if (k != "to" && k != "features" && k != "ratios" && k != "rules" && k != "default") {
      return configError("unknown member " + k);
    }
  }
  const t = c.get("to");
  if (t === null || t.kind != JsonKind.String || t.str.length == 0) {
    return configError("to must name the topic to publish on");
  }
  to = t.str;
  const f = c.get("features");
  if (f === null || f.kind != JsonKind.Array || f.items.length == 0 || f.items.length > MAX_ITEMS) {
    return configError("features must name 1 to 64 float32s");
  }
  for (let i = 0; i < f.items.length; i++) {
    const n = f.items[i];
    if (n.kind != JsonKind.String || n.str.length == 0 || indexOf(n.str) >= 0) {
      return configError("features must be distinct non-empty names");
    }
    names.push(n.str);
  }
  featureCount = names.length;
  const r = c.get("ratios");
  if (r !== null) {
    if (r.kind != JsonKind.Object || r.keys.length > MAX_ITEMS) {
      return configError("ratios must be an object of at most 64 [numerator, denominator]");
    }
    for (let i = 0; i < r.keys.length; i++) {
      const pair = r.values[i];
      const bad = configError("ratios." + r.keys[i] + " must be [numerator, denominator]");
      if (pair.kind != JsonKind.Array || pair.items.length != 2) return bad;
      if (pair.items[0].kind != JsonKind.String || pair.items[1].kind != JsonKind.String) return bad;
      const num = indexOf(pair.items[0].str), den = indexOf(pair.items[1].str);
      if (num < 0 || den < 0 || num >= featureCount || den >= featureCount) {
        return configError("ratios." + r.keys[i] + ": names a value that is not a feature");
      }
      if (indexOf(r.keys[i]) >= 0) return configError("ratios." + r.keys[i] + ": name taken");
      names.push(r.keys[i]);
      ratioNum.push(num);
      ratioDen.push(den);
    }
  }
  const rs = c.get("rules");
  if (rs !== null) {
    const err = readRules(rs);
    if (err !== null) return configError(err!);
  }
  const d = c.get("default");
  if (d === null || d.kind != JsonKind.String || d.str.length == 0) {
    return configError("default must name the class when no rule holds");
  }
  fallback = d.str;
  values = new StaticArray<f64>(names.length);
  return null;
}

function finite(x: f64): f64 {
  return isFinite(x) ? x : 0;
}

export function handle(pulse: Pulse): Pulse[] {
  const bytes = pulse.payload.length;
  if (bytes != featureCount * 4) {
    log(LogLevel.Error, "classify: the payload holds " + bytes.toString() + " bytes, not " +
      featureCount.toString() + " float32s");
    // The host counts a trapped pulse as failed.
    unreachable();
  }
  const base = pulse.payload.dataStart;
  for (let i = 0; i < featureCount; i++) {
    unchecked(values[i] = finite(<f64>load<f32>(base + (<usize>i << 2))));
  }
  for (let i = 0; i < ratioNum.length; i++) {
    const den = unchecked(values[ratioDen[i]]);
    unchecked(values[featureCount + i] = den == 0 ? 0 : finite(values[ratioNum[i]] / den));
  }
  let klass = fallback;
  for (let i = 0; i < rules.length; i++) {
    const conds = rules[i].conds;
    let all = true;
    for (let j = 0; j < conds.length && all; j++) {
      const v = unchecked(values[conds[j].index]);
      all = v < conds[j].below && v > conds[j].above;
    }
    if (all) {
      klass = rules[i].klass;
      break;
    }
  }
  let json = '{"class":' + quote(klass) + ',"values":{';
  for (let i = 0; i < names.length; i++) {
    if (i > 0) json += ",";
    json += quote(names[i]) + ":" + unchecked(values[i]).toString();
  }
  return [outputText(to, json + "}}")];
}
