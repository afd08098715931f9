/**
 * Fuel metering: rewrites a core module so that it counts the work it does in an i64 global
 * and traps when the count goes below zero. The host sets the global before each call, so
 * every call has a budget and an infinite loop stops within it.
 *
 * Each metering point subtracts the static size (number of Binaryen expression nodes) of the
 * code it guards, up to the next metering point. Points sit at function entries, loop headers
 * (the targets of backward branches) and after named blocks in statement position (the targets
 * of forward branches). Every `memory.grow` also raises a flag when it would pass the cap. Both arms of an `if` are charged at the enclosing point, so the charge
 * is an upper bound of the work actually done, never an under-count.
 * @module
 */
import binaryen from "binaryen";
import { ComponentRejectedError } from "./errors.ts";
import { FUEL_EXPORT, GROW_REFUSED_EXPORT } from "./names.ts";

const FUEL_GLOBAL = "arqon$fuel";
const GROW_REFUSED_GLOBAL = "arqon$grow_refused";
const GROW_DELTA_GLOBAL = "arqon$grow_delta";

/** Core features a guest may use; anything else is rejected at load. */
const ALLOWED_FEATURES = binaryen.Features.MVP | binaryen.Features.MutableGlobals |
  binaryen.Features.SignExt | binaryen.Features.NontrappingFPToInt |
  binaryen.Features.BulkMemory | binaryen.Features.BulkMemoryOpt | binaryen.Features.SIMD128 |
  binaryen.Features.Multivalue | binaryen.Features.ReferenceTypes |
  binaryen.Features.CallIndirectOverlong | binaryen.Features.ExtendedConst;

type Ref = number;

/** The expression wrappers binaryen.js has at run time but its typings omit. */
interface ExpressionWrappers {
  Loop: { getBody(e: Ref): Ref; setBody(e: Ref, body: Ref): void };
  Block: {
    getNumChildren(e: Ref): number;
    getChildAt(e: Ref, i: number): Ref;
    getName(e: Ref): string | null;
    insertChildAt(e: Ref, i: number, child: Ref): void;
  };
  Function: { setBody(f: number, body: Ref): void };
  MemoryGrow: { getDelta(e: Ref): Ref; setDelta(e: Ref, delta: Ref): void };
}
const W = binaryen as unknown as ExpressionWrappers;

/** Expressions without children (binaryen.js has no info wrapper for some of them). */
const LEAVES = new Set<number>([
  binaryen.LocalGetId,
  binaryen.GlobalGetId,
  binaryen.ConstId,
  binaryen.NopId,
  binaryen.UnreachableId,
  binaryen.MemorySizeId,
  binaryen.DataDropId,
  binaryen.RefNullId,
  binaryen.RefFuncId,
  binaryen.TableSizeId,
  binaryen.AtomicFenceId,
]);

/** Child expressions by expression id (only expression-valued fields). */
function childrenOf(expr: Ref): Ref[] {
  const id = binaryen.getExpressionId(expr);
  if (LEAVES.has(id)) return [];
  let info: Record<string, unknown>;
  try {
    info = binaryen.getExpressionInfo(expr) as unknown as Record<string, unknown>;
  } catch {
    throw new ComponentRejectedError(
      "unsupported_feature",
      `the module uses an instruction the sandbox does not meter (binaryen expression id ${id})`,
    );
  }
  const pick = (...keys: string[]) => keys.map((k) => info[k] as Ref).filter((r) => r !== 0);
  switch (id) {
    case binaryen.BlockId:
      return info.children as Ref[];
    case binaryen.IfId:
      return pick("condition", "ifTrue", "ifFalse");
    case binaryen.LoopId:
      return pick("body");
    case binaryen.BreakId:
    case binaryen.SwitchId:
      return pick("condition", "value");
    case binaryen.CallId:
      return info.operands as Ref[];
    case binaryen.CallIndirectId:
      return [...(info.operands as Ref[]), info.target as Ref];
    case binaryen.LocalSetId:
    case binaryen.GlobalSetId:
    case binaryen.UnaryId:
    case binaryen.DropId:
    case binaryen.ReturnId:
    case binaryen.RefIsNullId:
      return pick("value");
    case binaryen.LoadId:
    case binaryen.SIMDLoadId:
      return pick("ptr");
    case binaryen.StoreId:
    case binaryen.AtomicRMWId:
      return pick("ptr", "value");
    case binaryen.AtomicCmpxchgId:
      return pick("ptr", "expected", "replacement");
    case binaryen.AtomicWaitId:
      return pick("ptr", "expected", "timeout");
    case binaryen.AtomicNotifyId:
      return pick("ptr", "notifyCount");
    case binaryen.BinaryId:
    case binaryen.SIMDShuffleId:
    case binaryen.RefEqId:
      return pick("left", "right");
    case binaryen.SelectId:
      return pick("ifTrue", "ifFalse", "condition");
    case binaryen.MemoryGrowId:
      return pick("delta");
    case binaryen.SIMDExtractId:
      return pick("vec");
    case binaryen.SIMDReplaceId:
      return pick("vec", "value");
    case binaryen.SIMDTernaryId:
      return pick("a", "b", "c");
    case binaryen.SIMDShiftId:
      return pick("vec", "shift");
    case binaryen.SIMDLoadStoreLaneId:
      return pick("ptr", "vec");
    case binaryen.MemoryInitId:
      return pick("dest", "offset", "size");
    case binaryen.MemoryCopyId:
      return pick("dest", "source", "size");
    case binaryen.MemoryFillId:
      return pick("dest", "value", "size");
    case binaryen.TableGetId:
      return pick("index");
    case binaryen.TableSetId:
      return pick("index", "value");
    case binaryen.TableGrowId:
      return pick("value", "delta");
    case binaryen.TupleMakeId:
      return info.operands as Ref[];
    case binaryen.TupleExtractId:
      return pick("tuple");
    default:
      throw new ComponentRejectedError(
        "unsupported_feature",
        `the module uses an instruction the sandbox does not meter (binaryen expression id ${id})`,
      );
  }
}

/** binaryen 132 takes one bigint argument; its typings still declare (low, high). */
function i64Const(m: binaryen.Module, value: bigint): Ref {
  return (m.i64.const as unknown as (v: bigint) => Ref)(value);
}

class Metering {
  constructor(private readonly mod: binaryen.Module, private readonly capPages: number) {}

  /**
   * Wraps a `memory.grow` delta so that a grow past the cap raises the refused flag (the grow
   * itself still returns -1, as V8 enforces the maximum); the host uses the flag to report a
   * memory-cap failure rather than a generic trap.
   */
  flagGrow(grow: Ref): void {
    const m = this.mod;
    const delta = W.MemoryGrow.getDelta(grow);
    W.MemoryGrow.setDelta(
      grow,
      m.block(null, [
        m.global.set(GROW_DELTA_GLOBAL, delta),
        m.if(
          m.i32.gt_u(
            m.global.get(GROW_DELTA_GLOBAL, binaryen.i32),
            m.i32.sub(m.i32.const(this.capPages), m.memory.size()),
          ),
          m.global.set(GROW_REFUSED_GLOBAL, m.i32.const(1)),
        ),
        m.global.get(GROW_DELTA_GLOBAL, binaryen.i32),
      ], binaryen.i32),
    );
  }

  /** `fuel -= cost; if (fuel < 0) unreachable`. */
  check(cost: number): Ref {
    const m = this.mod;
    return m.block(null, [
      m.global.set(
        FUEL_GLOBAL,
        m.i64.sub(m.global.get(FUEL_GLOBAL, binaryen.i64), i64Const(m, BigInt(cost))),
      ),
      m.if(
        m.i64.lt_s(m.global.get(FUEL_GLOBAL, binaryen.i64), i64Const(m, 0n)),
        m.unreachable(),
      ),
    ], binaryen.none);
  }

  /** Instruments `expr` in place; returns the cost charged to the enclosing metering point. */
  visit(expr: Ref): number {
    const id = binaryen.getExpressionId(expr);
    if (id === binaryen.LoopId) {
      const body = W.Loop.getBody(expr);
      const cost = this.visit(body);
      W.Loop.setBody(
        expr,
        this.mod.block(null, [this.check(cost), body], binaryen.getExpressionType(body)),
      );
      return 1;
    }
    if (id === binaryen.BlockId) return this.visitBlock(expr);
    let cost = 1;
    for (const child of childrenOf(expr)) cost += this.visit(child);
    if (id === binaryen.MemoryGrowId) this.flagGrow(expr);
    return cost;
  }

  private visitBlock(block: Ref): number {
    const n = W.Block.getNumChildren(block);
    const children: Ref[] = [];
    for (let i = 0; i < n; i++) children.push(W.Block.getChildAt(block, i));
    // Split the statement list after every named child block: the code after it is a branch
    // target and gets its own metering point.
    const costs = children.map((c) => this.visit(c));
    const splits: { at: number; cost: number }[] = [];
    let head = 1;
    let segment = -1;
    let segmentCost = 0;
    for (let i = 0; i < n; i++) {
      if (segment < 0) head += costs[i];
      else segmentCost += costs[i];
      const child = children[i];
      const isTarget = binaryen.getExpressionId(child) === binaryen.BlockId &&
        W.Block.getName(child) !== null && W.Block.getName(child) !== "";
      if (isTarget && i < n - 1) {
        if (segment >= 0) splits.push({ at: segment, cost: segmentCost });
        segment = i + 1;
        segmentCost = 0;
      }
    }
    if (segment >= 0) splits.push({ at: segment, cost: segmentCost });
    for (let k = splits.length - 1; k >= 0; k--) {
      W.Block.insertChildAt(block, splits[k].at, this.check(Math.max(1, splits[k].cost)));
    }
    return head;
  }
}

/** Result of {@linkcode meterFuel}. */
export interface MeteredModule {
  /** The instrumented core module. */
  bytes: Uint8Array;
  /** Number of functions instrumented. */
  functions: number;
}

/** A module read by Binaryen, with the allowed feature set. */
export function readModule(bytes: Uint8Array): binaryen.Module {
  const mod = binaryen.readBinary(bytes);
  mod.setFeatures(ALLOWED_FEATURES);
  return mod;
}

/**
 * Injects fuel metering into `mod` (consumed: disposed on return). `startFuel` is the
 * counter's initial value, i.e. the budget of the start function.
 */
export function meterFuel(
  mod: binaryen.Module,
  startFuel: bigint,
  capPages: number,
): MeteredModule {
  try {
    if (mod.getGlobal(FUEL_GLOBAL) !== 0 || mod.getExport(FUEL_EXPORT) !== 0) {
      throw new ComponentRejectedError(
        "bad_core_module",
        `the module already defines ${FUEL_EXPORT}`,
      );
    }
    mod.addGlobal(FUEL_GLOBAL, binaryen.i64, true, i64Const(mod, startFuel));
    mod.addGlobalExport(FUEL_GLOBAL, FUEL_EXPORT);
    mod.addGlobal(GROW_REFUSED_GLOBAL, binaryen.i32, true, mod.i32.const(0));
    mod.addGlobalExport(GROW_REFUSED_GLOBAL, GROW_REFUSED_EXPORT);
    mod.addGlobal(GROW_DELTA_GLOBAL, binaryen.i32, true, mod.i32.const(0));
    const metering = new Metering(mod, capPages);
    let functions = 0;
    const count = mod.getNumFunctions();
    for (let i = 0; i < count; i++) {
      const fn = mod.getFunctionByIndex(i);
      const info = binaryen.getFunctionInfo(fn);
      if (info.module) continue; // imported
      const body = info.body;
      let cost: number;
      try {
        cost = metering.visit(body);
      } catch (e) {
        if (e instanceof RangeError) {
          throw new ComponentRejectedError(
            "bad_core_module",
            `function ${info.name} is nested too deeply`,
          );
        }
        throw e;
      }
      W.Function.setBody(
        fn,
        mod.block(null, [metering.check(cost), body], binaryen.getExpressionType(body)),
      );
      functions++;
    }
    if (!mod.validate()) {
      throw new ComponentRejectedError(
        "unsupported_feature",
        "the module does not validate with the allowed features (MVP, mutable globals, sign extension, non-trapping float-to-int, bulk memory, SIMD, multi-value, reference types, extended const)",
      );
    }
    return { bytes: mod.emitBinary(), functions };
  } finally {
    mod.dispose();
  }
}
