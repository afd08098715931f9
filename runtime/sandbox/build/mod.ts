/**
 * Building AssemblyScript guests into components of a world of `wit/`: the pipeline every
 * world's build shares (see {@linkcode GuestToolchain}).
 * @module
 */
export {
  absoluteSource,
  compileGuest,
  compileGuestCore,
  type CompileOptions,
  componentize,
  GuestCompileError,
  type GuestToolchain,
  relativeImport,
} from "./compile.ts";
export { buildGuestCached, runGuestBuild, sourcesIn } from "./cached.ts";
