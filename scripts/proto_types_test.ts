import assert from "node:assert/strict";
import { apiTypes } from "./proto_types.ts";

/** A pbts declaration file in miniature, laid out as pbts 1.3 writes one. */
const PBTS = `import * as $protobuf from "protobufjs";
/** Namespace arqon. */
export namespace arqon {

    /** Namespace v1. */
    namespace v1 {

        /** Properties of a Thing. */
        interface IThing {

            /** Thing id */
            id?: (string|null);

            /**
             * A comment of the .proto,
             * over two lines.
             */
            count?: (number|null);

            /** Thing inner */
            inner?: (arqon.v1.IThing|null);

            /** Thing many */
            many?: (arqon.v1.IThing[]|null);

            /** Thing tags */
            tags?: ({ [k: string]: string }|null);

            /** Thing mode */
            mode?: (arqon.v1.ThingMode|null);

            /** Thing raw */
            raw?: (Uint8Array|null);
        }

        /** A thing, as the .proto describes it. */
        class Thing implements IThing {

            /** Thing id. */
            public id: string;

            /** Thing which. */
            public which?: ("id"|"count");
        }

        /** ThingMode enum. */
        enum ThingMode {
            THING_MODE_OFF = 0,
            THING_MODE_ON = 1
        }
    }
}
`;

Deno.test("apiTypes rewrites pbts declarations into the protocol's API types", () => {
  const out = apiTypes(PBTS);
  assert.match(
    out,
    /\/\*\* A thing, as the \.proto describes it\. \*\/\nexport interface IThing \{/,
  );
  for (
    const field of [
      "id?: string;",
      "count?: number;",
      "inner?: IThing | null;",
      "many?: IThing[];",
      "tags?: Record<string, string>;",
      "mode?: number;",
      "raw?: Uint8Array;",
      "which?: string;",
    ]
  ) assert.ok(out.includes(`  ${field}\n`), field);
  assert.ok(
    out.includes("  /**\n   * A comment of the .proto,\n   * over two lines.\n   */\n  count"),
  );
  assert.match(
    out,
    /export interface ThingModeValues \{\n.*\n {2}readonly OFF: 0;\n.*\n {2}readonly ON: 1;\n\}/,
  );
  assert.doesNotMatch(out, /null\)|namespace|\$protobuf/);
});

Deno.test("apiTypes fails the build on a declaration it cannot map", () => {
  assert.throws(
    () => apiTypes(PBTS.replace("(Uint8Array|null)", "(Long|null)")),
    /no mapping for field type Long \(Thing\.raw\)/,
  );
  assert.throws(
    () => apiTypes(PBTS.replace("THING_MODE_ON", "ON")),
    /lacks the prefix THING_MODE_/,
  );
  assert.throws(
    () => apiTypes(PBTS.replace("class Thing implements", "class Other implements")),
    /no class for IThing/,
  );
});
