/**
 * Building AssemblyScript policies into components of world `arqon:bus/policy`.
 * @module
 */
export {
  type CompileOptions,
  compilePolicy,
  compilePolicyCore,
  componentizePolicy,
  POLICY_TOOLCHAIN,
  PolicyCompileError,
  policyEntrySource,
} from "./compile.ts";
export {
  buildPolicyCached,
  builtinPolicyComponent,
  POLICY_BUILD_DIR,
  REPO_ROOT,
  testPolicyComponent,
} from "./cached.ts";
