// mesh-coherence: the THE_ONE mesh's coherence layer as a Tier-Ω operator.
//
// Input pulses (JSON) `{node_id, phase: {real, imag}, coherence, weight, tau_ms}` report one
// node's latest complex phase. The operator keeps each node's latest report in durable state
// until it is older than the node's own `tau_ms`, measured in the pulses' logical time (the
// HLC stamp of the input pulse, never the wall clock: a replayed reality gives the same
// outputs). On each input it emits `mesh.coherence.global`:
//   {global_phase: {real, imag}, global_coherence, live_nodes, emerged}
// the weight-averaged phase of the live nodes, the mean of their coherences, their count, and
// whether the global coherence is above `emergence_threshold`; the output's spectral
// coherence is the global coherence and its criticality the signed distance to the threshold.
//
// State: one key, `mesh`, holding every live node (binary, little-endian; see `encode`), so
// a pulse reads and writes it once and a trap or a restart never sees half an update.
import {
  JsonKind,
  JsonParser,
  JsonValue,
  log,
  LogLevel,
  outputText,
  parseJsonString,
  Pulse,
  stateGet,
  stateSet,
} from "@arqon/operator";

const OUT_TOPIC = "mesh.coherence.global";
const STATE_KEY = "mesh";
const MAX_NODE_ID_BYTES = 256;

/** `emergence_threshold` from the configuration (default 0.75). */
let configuredThreshold: f64 = 0.75;
/** `max_nodes`: live nodes kept at most; reports of further nodes are ignored (logged). */
let maxNodes: i32 = 1024;

/**
 * The threshold in force for this pulse. Control parameters (`sys.control.set`) override
 * the configuration once operators can read them; the change is this one line:
 *   const p = controlParam("emergence_threshold"); if (p !== null) return parseFloat(p);
 */
function emergenceThreshold(): f64 {
  return configuredThreshold;
}

/** One node's latest report. */
class Node {
  constructor(
    public id: string,
    public real: f64,
    public imag: f64,
    public coherence: f64,
    public weight: f64,
    public tauMs: f64,
    public wallMs: u64,
    public logical: u32,
  ) {}
}

function finite(v: JsonValue | null): bool {
  return v !== null && v.kind == JsonKind.Number && isFinite(v.num);
}

export function init(config: string): string | null {
  const c = parseJsonString(config);
  if (c === null || c.kind != JsonKind.Object) return "config must be a JSON object";
  const t = c.get("emergence_threshold");
  if (t !== null) {
    if (!finite(t)) return "emergence_threshold must be a finite number";
    configuredThreshold = t.num;
  }
  const m = c.get("max_nodes");
  if (m !== null) {
    if (!finite(m) || m.num < 1 || m.num > 65536 || m.num != Math.floor(m.num)) {
      return "max_nodes must be an integer in 1..65536";
    }
    maxNodes = <i32>m.num;
  }
  return null;
}

// ---- state encoding: u32 count, then per node: u16 id length, id bytes, 5 x f64
// (real, imag, coherence, weight, tau_ms), u64 wall_ms, u32 logical.

function decode(bytes: Uint8Array | null): Node[] {
  const out = new Array<Node>();
  if (bytes === null || bytes.length < 4) return out;
  const base = bytes.dataStart;
  const n = load<u32>(base);
  let at: usize = 4;
  for (let i: u32 = 0; i < n; i++) {
    const len = <usize>load<u16>(base + at);
    at += 2;
    const id = String.UTF8.decodeUnsafe(base + at, len);
    at += len;
    const p = base + at;
    out.push(new Node(
      id,
      load<f64>(p),
      load<f64>(p, 8),
      load<f64>(p, 16),
      load<f64>(p, 24),
      load<f64>(p, 32),
      load<u64>(p, 40),
      load<u32>(p, 48),
    ));
    at += 52;
  }
  return out;
}

function encode(nodes: Node[]): Uint8Array {
  const ids = new Array<ArrayBuffer>(nodes.length);
  let size = 4;
  for (let i = 0; i < nodes.length; i++) {
    ids[i] = String.UTF8.encode(nodes[i].id);
    size += 2 + ids[i].byteLength + 52;
  }
  const out = new Uint8Array(size);
  const base = out.dataStart;
  store<u32>(base, <u32>nodes.length);
  let at: usize = 4;
  for (let i = 0; i < nodes.length; i++) {
    const node = nodes[i];
    const len = <usize>ids[i].byteLength;
    store<u16>(base + at, <u16>len);
    at += 2;
    memory.copy(base + at, changetype<usize>(ids[i]), len);
    at += len;
    const p = base + at;
    store<f64>(p, node.real);
    store<f64>(p, node.imag, 8);
    store<f64>(p, node.coherence, 16);
    store<f64>(p, node.weight, 24);
    store<f64>(p, node.tauMs, 32);
    store<u64>(p, node.wallMs, 40);
    store<u32>(p, node.logical, 48);
    at += 52;
  }
  return out;
}

/** The report in `pulse`, or null (logged) when it is not one. */
function readReport(pulse: Pulse): Node | null {
  const parser = new JsonParser(pulse.payload);
  const v = parser.parse();
  if (v === null || v.kind != JsonKind.Object) {
    const why = parser.error;
    log(LogLevel.Warn, "input is not a JSON object" + (why === null ? "" : ": " + why) + "; ignored");
    return null;
  }
  const id = v.get("node_id");
  const phase = v.get("phase");
  const coherence = v.get("coherence");
  const weight = v.get("weight");
  const tau = v.get("tau_ms");
  if (
    id === null || id.kind != JsonKind.String || id.str.length == 0 ||
    String.UTF8.byteLength(id.str) > MAX_NODE_ID_BYTES
  ) {
    log(LogLevel.Warn, "input needs node_id: a non-empty string of at most 256 bytes; ignored");
    return null;
  }
  if (phase === null || phase.kind != JsonKind.Object) {
    log(LogLevel.Warn, "input needs phase: {real, imag}; ignored");
    return null;
  }
  const re = phase.get("real");
  const im = phase.get("imag");
  if (
    !finite(re) || !finite(im) || !finite(coherence) || !finite(weight) || weight!.num < 0 ||
    !finite(tau) || tau!.num < 0
  ) {
    log(
      LogLevel.Warn,
      "input needs finite phase.real, phase.imag, coherence, weight >= 0 and tau_ms >= 0; ignored",
    );
    return null;
  }
  return new Node(
    id.str,
    re!.num,
    im!.num,
    coherence!.num,
    weight!.num,
    tau!.num,
    pulse.wallMs,
    pulse.logical,
  );
}

export function handle(pulse: Pulse): Pulse[] {
  const report = readReport(pulse);
  if (report === null) return [];
  // Forget the reports older than their own tau_ms, by the logical time of this pulse
  // (first, so that expired nodes make room for new ones under max_nodes).
  const now = pulse.wallMs;
  const kept = decode(stateGet(STATE_KEY));
  const live = new Array<Node>();
  for (let i = 0; i < kept.length; i++) {
    const node = kept[i];
    const age: f64 = now >= node.wallMs ? <f64>(now - node.wallMs) : 0;
    if (age <= node.tauMs) live.push(node);
  }
  // The node's latest report replaces its earlier one, in place (order = first report).
  let found = false;
  for (let i = 0; i < live.length; i++) {
    if (live[i].id == report.id) {
      live[i] = report;
      found = true;
      break;
    }
  }
  if (!found) {
    if (live.length < maxNodes) live.push(report);
    else {
      log(
        LogLevel.Warn,
        "max_nodes (" + maxNodes.toString() + ") live nodes: " + report.id + " ignored",
      );
    }
  }
  let wsum: f64 = 0;
  let re: f64 = 0;
  let im: f64 = 0;
  let csum: f64 = 0;
  for (let i = 0; i < live.length; i++) {
    const node = live[i];
    wsum += node.weight;
    re += node.real * node.weight;
    im += node.imag * node.weight;
    csum += node.coherence;
  }
  if (wsum > 0) {
    re /= wsum;
    im /= wsum;
  } else {
    re = 0;
    im = 0;
  }
  const n = live.length;
  const coherence: f64 = n > 0 ? csum / <f64>n : 0;
  const threshold = emergenceThreshold();
  const emerged = coherence > threshold;
  const err = stateSet(STATE_KEY, encode(live));
  if (err !== null) {
    // Emitting a global the state does not back would diverge on the next pulse: fail this
    // one (counted by the node) instead. `max_nodes` keeps the default state limit away.
    log(LogLevel.Error, "state not saved: " + err);
    unreachable();
  }
  const json = '{"global_phase":{"real":' + re.toString() + ',"imag":' + im.toString() +
    '},"global_coherence":' + coherence.toString() + ',"live_nodes":' + n.toString() +
    ',"emerged":' + (emerged ? "true" : "false") + "}";
  return [outputText(OUT_TOPIC, json).withSpectral(coherence, coherence - threshold)];
}
