/**
 * Names the instrumented core module exports to the host.
 * @module
 */

/** Export through which the host reads and writes the fuel counter (i64). */
export const FUEL_EXPORT = "arqon_fuel";

/** Export of an i32 flag set to 1 when a `memory.grow` would pass the memory cap. */
export const GROW_REFUSED_EXPORT = "arqon_grow_refused";

/** Export of the guest's linear memory. */
export const MEMORY_EXPORT = "memory";

/** The canonical ABI's allocator export, through which the host writes into guest memory. */
export const ALLOC_EXPORT = "cabi_realloc";
