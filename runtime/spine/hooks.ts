/**
 * Former home of the Spine's ports, kept so existing imports resolve; new code imports
 * them from the Spine's `mod.ts` (declared in `ports.ts`).
 * @module
 */
export type { GuardVerdict, PulseGuard, PulseLog } from "./ports.ts";
