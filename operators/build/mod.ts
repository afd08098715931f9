/**
 * Building AssemblyScript operators into components of world `arqon:bus/operator`
 * (`deno task operator:build`).
 * @module
 */
export {
  buildOperatorCached,
  compileOperator,
  OPERATOR_BUILD_DIR,
  OPERATOR_TOOLCHAIN,
  operatorEntrySource,
  REPO_ROOT,
  testOperatorComponent,
} from "./compile.ts";
